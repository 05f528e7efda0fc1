//! End-to-end tests of the gateway over real HTTP on 127.0.0.1, in front of
//! the fake provider.

mod errors;
mod harness;
mod protocols;
mod streaming;
