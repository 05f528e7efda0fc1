//! Runtime output: a bounded log file, an in-memory ring of recent lines for
//! fast tail, and a broadcast channel for followers.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use gopilot_guest_api::{LogLine, LogStream};
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::broadcast;

use crate::timestamp::rfc3339;

/// Maximum length of one log entry, in bytes. Longer lines are split into several entries.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Lines a slow follower may fall behind before it misses some.
const FOLLOW_CHANNEL_CAPACITY: usize = 1024;

/// Failure to open the log file at start.
#[derive(Debug, thiserror::Error)]
#[error("cannot open runtime log file {path} (config field `log_path`): {source}")]
pub struct LogFileError {
    path: PathBuf,
    source: std::io::Error,
}

struct StoredLine {
    at: OffsetDateTime,
    line: LogLine,
}

struct LogState {
    ring: VecDeque<StoredLine>,
    capacity: usize,
    file: LogFile,
}

/// Recent runtime output and the sinks every new line goes to.
pub struct LogBook {
    state: Mutex<LogState>,
    followers: broadcast::Sender<LogLine>,
}

impl LogBook {
    /// Opens (or creates) the log file, with its parent directory, for appending.
    pub fn open(path: &Path, max_bytes: u64, buffer_lines: usize) -> Result<Self, LogFileError> {
        let file = LogFile::open(path, max_bytes).map_err(|source| LogFileError {
            path: path.to_owned(),
            source,
        })?;
        let (followers, _) = broadcast::channel(FOLLOW_CHANNEL_CAPACITY);

        Ok(Self {
            state: Mutex::new(LogState {
                ring: VecDeque::with_capacity(buffer_lines.min(4096)),
                capacity: buffer_lines,
                file,
            }),
            followers,
        })
    }

    /// Records one line: appends it to the file and the ring, and sends it to followers.
    pub fn push(&self, stream: LogStream, text: String) {
        let at = OffsetDateTime::now_utc();
        let line = LogLine {
            ts: rfc3339(at),
            stream,
            line: text,
        };

        // Followers are sent the line under the same lock as the ring, so a
        // `follow` stream has no gap and no duplicate between its tail and its live lines.
        let mut state = self.lock();
        state.file.append(&line);
        if state.ring.len() == state.capacity {
            state.ring.pop_front();
        }
        state.ring.push_back(StoredLine {
            at,
            line: line.clone(),
        });
        let _no_followers = self.followers.send(line);
    }

    /// Records a lifecycle event of the guest itself, such as an exit or a restart.
    pub fn guest_event(&self, text: impl Into<String>) {
        self.push(LogStream::Guest, text.into());
    }

    /// Returns buffered lines newer than `since` (exclusive), at most the last `tail` of them.
    pub fn recent(&self, tail: Option<usize>, since: Option<OffsetDateTime>) -> Vec<LogLine> {
        let state = self.lock();
        select_recent(&state.ring, tail, since)
    }

    /// Returns the last `tail` lines and a receiver for every line pushed after them.
    pub fn follow(&self, tail: usize) -> (Vec<LogLine>, broadcast::Receiver<LogLine>) {
        let state = self.lock();
        let receiver = self.followers.subscribe();
        (select_recent(&state.ring, Some(tail), None), receiver)
    }

    fn lock(&self) -> MutexGuard<'_, LogState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn select_recent(
    ring: &VecDeque<StoredLine>,
    tail: Option<usize>,
    since: Option<OffsetDateTime>,
) -> Vec<LogLine> {
    let newer: Vec<&StoredLine> = ring
        .iter()
        .filter(|stored| since.is_none_or(|since| stored.at > since))
        .collect();
    let skip = tail.map_or(0, |tail| newer.len().saturating_sub(tail));
    newer
        .into_iter()
        .skip(skip)
        .map(|stored| stored.line.clone())
        .collect()
}

/// Append-only text file, rotated to `<path>.1` when it would exceed `max_bytes`.
struct LogFile {
    path: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
    /// Set after a failed write, so a full disk logs one warning instead of one per line.
    failing: bool,
}

impl LogFile {
    fn open(path: &Path, max_bytes: u64) -> std::io::Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();

        Ok(Self {
            path: path.to_owned(),
            file,
            size,
            max_bytes,
            failing: false,
        })
    }

    /// Writes `<ts> <stream> <line>\n`.
    fn append(&mut self, line: &LogLine) {
        let record = format!("{} {} {}\n", line.ts, line.stream.as_str(), line.line);

        if self.size + record.len() as u64 > self.max_bytes {
            if let Err(error) = self.rotate() {
                self.report_failure("rotate", &error);
            }
        }

        match self.file.write_all(record.as_bytes()) {
            Ok(()) => {
                self.size += record.len() as u64;
                self.failing = false;
            }
            Err(error) => self.report_failure("write", &error),
        }
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let mut rotated = self.path.clone().into_os_string();
        rotated.push(".1");
        std::fs::rename(&self.path, &rotated)?;

        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }

    fn report_failure(&mut self, action: &str, error: &std::io::Error) {
        if !self.failing {
            tracing::warn!(path = %self.path.display(), action, %error, "runtime log file failed; lines stay in memory only until it recovers");
            self.failing = true;
        }
    }
}

/// Reads `reader` line by line into `book` until end of file.
pub async fn capture_lines(reader: impl AsyncRead + Unpin, stream: LogStream, book: &LogBook) {
    let mut reader = BufReader::with_capacity(8192, reader);
    let mut pending: Vec<u8> = Vec::new();

    loop {
        let buffer = match reader.fill_buf().await {
            Ok(buffer) => buffer,
            Err(error) => {
                tracing::warn!(stream = stream.as_str(), %error, "reading runtime output failed");
                break;
            }
        };
        if buffer.is_empty() {
            break;
        }

        let room = MAX_LINE_BYTES - pending.len();
        match buffer.iter().position(|&byte| byte == b'\n') {
            Some(end) if end <= room => {
                pending.extend_from_slice(&buffer[..end]);
                reader.consume(end + 1);
                book.push(stream, decode_line(&pending));
                pending.clear();
            }
            _ => {
                let take = buffer.len().min(room);
                pending.extend_from_slice(&buffer[..take]);
                reader.consume(take);
                if pending.len() == MAX_LINE_BYTES {
                    book.push(stream, decode_line(&pending));
                    pending.clear();
                }
            }
        }
    }

    if !pending.is_empty() {
        book.push(stream, decode_line(&pending));
    }
}

fn decode_line(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(dir: &Path, max_bytes: u64, lines: usize) -> LogBook {
        LogBook::open(&dir.join("runtime.log"), max_bytes, lines).unwrap()
    }

    fn texts(lines: &[LogLine]) -> Vec<&str> {
        lines.iter().map(|line| line.line.as_str()).collect()
    }

    #[tokio::test]
    async fn capture_splits_lines() {
        let dir = tempfile::tempdir().unwrap();
        let book = book(dir.path(), 1 << 20, 100);
        let long = "x".repeat(MAX_LINE_BYTES + 10);
        let input = format!("one\r\ntwo\n{long}\nlast without newline");

        capture_lines(input.as_bytes(), LogStream::Stdout, &book).await;

        let lines = book.recent(None, None);
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0].line, "one");
        assert_eq!(lines[1].line, "two");
        assert_eq!(lines[2].line.len(), MAX_LINE_BYTES);
        assert_eq!(lines[3].line.len(), 10);
        assert_eq!(lines[4].line, "last without newline");
        assert!(lines.iter().all(|line| line.stream == LogStream::Stdout));
    }

    #[test]
    fn ring_keeps_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let book = book(dir.path(), 1 << 20, 3);
        for n in 0..5 {
            book.push(LogStream::Stderr, format!("line {n}"));
        }

        assert_eq!(
            texts(&book.recent(None, None)),
            ["line 2", "line 3", "line 4"]
        );
        assert_eq!(texts(&book.recent(Some(1), None)), ["line 4"]);
    }

    #[test]
    fn since_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let book = book(dir.path(), 1 << 20, 10);
        book.push(LogStream::Stdout, "old".into());
        let cutoff = OffsetDateTime::now_utc();
        std::thread::sleep(std::time::Duration::from_millis(2));
        book.push(LogStream::Stdout, "new".into());

        assert_eq!(texts(&book.recent(None, Some(cutoff))), ["new"]);
    }

    #[test]
    fn file_rotates_at_limit() {
        let dir = tempfile::tempdir().unwrap();
        let book = book(dir.path(), 4096, 10);
        for n in 0..200 {
            book.push(LogStream::Stdout, format!("line number {n:04}"));
        }

        let current = std::fs::read_to_string(dir.path().join("runtime.log")).unwrap();
        let rotated = std::fs::read_to_string(dir.path().join("runtime.log.1")).unwrap();
        assert!(
            current.len() <= 4096,
            "current log has {} bytes",
            current.len()
        );
        assert!(
            rotated.len() <= 4096,
            "rotated log has {} bytes",
            rotated.len()
        );
        assert!(current.ends_with("stdout line number 0199\n"), "{current}");
    }
}
