//! GoPilot's control plane: the services that the API calls.
//!
//! The services join the pure domain (`gopilot-core`) to persistence
//! (`gopilot-store`): they validate, seal secrets, write records and record
//! events. Nothing here knows HTTP.

pub mod clock;
pub mod endpoint;
mod error;
pub mod gateway_bridge;
pub mod keys;
pub mod lifecycle;
pub mod agents;
pub mod usage;

pub use agents::{AgentService, AgentView};
pub use endpoint::{ChatModel, GuestEndpoint, RuntimeEndpoint, RuntimeLocator};
pub use error::ServiceError;
pub use keys::{Caller, CreatedKey, KeyService};
pub use usage::{GroupBy, UsageRange, UsageService, UsageSummary};
