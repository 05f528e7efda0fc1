pub mod agents;
pub mod health;
