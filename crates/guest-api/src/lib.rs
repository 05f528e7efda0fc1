//! Types shared by `gopilot-guest`, the supervisor that runs as PID 1 inside
//! each agent sandbox, and the control plane that configures it and calls its
//! HTTP API.
//!
//! This crate contains data types only: no I/O and no HTTP client, so the control plane
//! can use it with any client. It depends on `serde` and `serde_json` alone.
//! Timestamps are RFC 3339 strings in UTC.
//!
//! The guest is started as `gopilot-guest --config PATH` (default
//! [`DEFAULT_CONFIG_PATH`]) and serves these routes on `api_listen`. Every
//! route requires `Authorization: Bearer <api_token>` (401 otherwise), and
//! errors have the [`ErrorBody`] shape.
//!
//! | Route | Success | Errors |
//! |---|---|---|
//! | `GET /v1/status` | 200 [`GuestStatus`] | |
//! | `GET /v1/ready` | 200 [`ReadyResponse`] | 503 [`ReadyResponse`] with `reason` |
//! | `GET /v1/logs?tail=N&since=RFC3339` | 200 `[`[`LogLine`]`]` | 400 bad query |
//! | `GET /v1/logs?follow=true&tail=N` | 200 SSE, one `log` event ([`LogLine`] JSON) per line | 400 with `since` |
//! | `GET /v1/files` | 200 [`FileList`] | |
//! | `GET /v1/files/{path}` | 200 raw bytes | 400 bad path, 404 missing |
//! | `PUT /v1/files/{path}` | 204, parents created, replaced atomically | 400 bad path, 413 over `max_file_bytes` |
//! | `DELETE /v1/files/{path}` | 204 | 400 bad path or directory, 404 missing |
//! | `POST /v1/runtime/restart` | 200 [`RuntimeStatus`] after the new spawn | 503 while shutting down |
//! | `POST /v1/runtime/signal` [`SignalRequest`] | 200 [`RuntimeStatus`] | 400 unknown signal, 409 no runtime process |
//!
//! A bad file path is one that is empty, absolute, contains NUL, `.`, `..` or
//! an empty component, contains a name from `hidden_files` at any depth, or
//! goes through a symlink (symlinks are never followed).

pub mod config;
pub mod error;
pub mod files;
pub mod logs;
pub mod status;

pub use config::{
    GuestConfig, InvalidConfig, ReadinessConfig, ReadinessExpect, RestartPolicy,
    DEFAULT_API_LISTEN, DEFAULT_CONFIG_PATH, MIN_API_TOKEN_LEN,
};
pub use error::{ErrorBody, ErrorDetail};
pub use files::{FileEntry, FileList};
pub use logs::{LogLine, LogStream};
pub use status::{
    ExitRecord, GuestStatus, ReadyResponse, RuntimeSignal, RuntimeState, RuntimeStatus,
    SignalRequest,
};
