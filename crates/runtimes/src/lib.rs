//! The agent runtimes that run inside a sandbox (OpenClaw, Hermes) and the
//! root filesystem images they run from.

pub mod image;
pub mod render;
pub mod openclaw;
pub mod hermes;
