//! Runtime output lines as `GET /v1/logs` returns them.

use serde::{Deserialize, Serialize};

/// Source of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    /// The runtime's standard output.
    Stdout,
    /// The runtime's standard error.
    Stderr,
    /// A lifecycle event written by the guest itself, e.g. "runtime exited with code 1".
    Guest,
}

impl LogStream {
    /// Returns the name used in JSON and in the log file.
    pub fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
            LogStream::Guest => "guest",
        }
    }
}

/// One line of output, without its trailing newline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Time the guest read the line, RFC 3339 UTC with nanoseconds.
    pub ts: String,
    pub stream: LogStream,
    /// The line's text. Invalid UTF-8 is replaced with U+FFFD, and a line
    /// longer than the guest's line limit arrives as several entries.
    pub line: String,
}
