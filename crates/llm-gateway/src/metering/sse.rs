//! An incremental decoder of `text/event-stream` bodies.
//!
//! Chunks arrive split at arbitrary byte positions, so the decoder keeps the
//! unfinished line between calls. It follows the WHATWG event stream format:
//! lines end in LF, CRLF or CR, `:` starts a comment, and a blank line
//! dispatches the event.

/// Upper bound on one event's buffered bytes. A longer event is skipped, so
/// a misbehaving upstream cannot make the gateway buffer without limit.
const MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// One decoded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseMessage {
    pub event: Option<String>,
    pub data: String,
}

#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    line: Vec<u8>,
    /// A CR ended the previous chunk, so a leading LF in the next one belongs to it.
    pending_carriage_return: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    oversized: bool,
}

impl SseDecoder {
    /// Feeds one chunk and returns the events it completed.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<SseMessage> {
        let mut messages = Vec::new();
        let mut bytes = chunk;

        if self.pending_carriage_return {
            self.pending_carriage_return = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }

        while let Some(position) = bytes
            .iter()
            .position(|&byte| byte == b'\n' || byte == b'\r')
        {
            self.append_to_line(&bytes[..position]);
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, &mut messages);

            let terminator = bytes[position];
            bytes = &bytes[position + 1..];
            if terminator == b'\r' {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    Some(_) => {}
                    None => self.pending_carriage_return = true,
                }
            }
        }
        self.append_to_line(bytes);
        messages
    }

    /// Returns the last event when the stream ends without a blank line.
    pub(crate) fn finish(&mut self) -> Option<SseMessage> {
        let mut messages = Vec::new();
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() {
            self.process_line(&line, &mut messages);
        }
        self.process_line(b"", &mut messages);
        messages.pop()
    }

    fn append_to_line(&mut self, bytes: &[u8]) {
        if self.line.len() + self.data.len() + bytes.len() > MAX_EVENT_BYTES {
            self.oversized = true;
            self.line.clear();
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    fn process_line(&mut self, line: &[u8], messages: &mut Vec<SseMessage>) {
        if line.is_empty() {
            self.dispatch(messages);
            return;
        }
        if line.starts_with(b":") || self.oversized {
            return;
        }

        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, messages: &mut Vec<SseMessage>) {
        let event = self.event.take();
        let data = std::mem::take(&mut self.data);
        let complete = self.has_data && !self.oversized;
        self.has_data = false;
        if self.oversized {
            tracing::warn!(
                max_bytes = MAX_EVENT_BYTES,
                "skipped an oversized SSE event while metering"
            );
        }
        self.oversized = false;
        if complete {
            messages.push(SseMessage { event, data });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(text: &str, piece_len: usize) -> Vec<SseMessage> {
        let mut decoder = SseDecoder::default();
        let mut messages = Vec::new();
        for piece in text.as_bytes().chunks(piece_len) {
            messages.extend(decoder.push(piece));
        }
        messages.extend(decoder.finish());
        messages
    }

    #[test]
    fn decoder_handles_any_split() {
        let text = "event: a\ndata: {\"x\":1}\n\n: comment\r\ndata: two\r\ndata: lines\r\n\r\ndata:last\r\rdata: end";
        let expected = vec![
            SseMessage {
                event: Some("a".into()),
                data: "{\"x\":1}".into(),
            },
            SseMessage {
                event: None,
                data: "two\nlines".into(),
            },
            SseMessage {
                event: None,
                data: "last".into(),
            },
            SseMessage {
                event: None,
                data: "end".into(),
            },
        ];
        for piece_len in 1..=text.len() {
            assert_eq!(
                decode_in_pieces(text, piece_len),
                expected,
                "piece length {piece_len}"
            );
        }
    }

    #[test]
    fn decoder_skips_oversized_event() {
        let big = "x".repeat(MAX_EVENT_BYTES + 10);
        let text = format!("data: {big}\n\ndata: small\n\n");
        let messages = decode_in_pieces(&text, 64 * 1024);
        assert_eq!(
            messages,
            vec![SseMessage {
                event: None,
                data: "small".into()
            }]
        );
    }
}
