//! GoPilot's domain model.
//!
//! Invariant: this crate does no I/O. It holds the agent record, the lifecycle
//! state machine, API key scopes, input validation and the secret cipher, so
//! every layer above can share one definition of each rule.

pub mod agent;
pub mod channel;
pub mod id;
pub mod lifecycle;
pub mod model;
pub mod scope;
pub mod secret;
pub mod size;
pub mod validate;

pub use agent::{Agent, AgentSecrets, ExtraAgent, LlmKey, RuntimeKind};
pub use channel::{ChannelKind, Channels};
pub use lifecycle::{Action, AgentStatus, DesiredState, LifecycleError};
pub use scope::{Scope, ScopeSet};
pub use size::{Resources, Size};
pub use validate::ValidationError;
