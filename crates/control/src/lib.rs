//! GoPilot's control plane: the services that the API calls.
//!
//! The services join the pure domain (`gopilot-core`) to persistence
//! (`gopilot-store`): they validate, seal secrets, write records and record
//! events. Nothing here knows HTTP.

pub mod clock;
mod error;
pub mod keys;
pub mod agents;

pub use agents::{AgentService, AgentView};
pub use error::ServiceError;
pub use keys::{Caller, CreatedKey, KeyService};
