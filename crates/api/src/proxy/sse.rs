//! A decoder for server-sent events read from an upstream byte stream, as
//! the WHATWG HTML standard defines the `text/event-stream` format.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `message` when the event named none.
    pub name: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Turns chunks of bytes into events. Chunks may split lines anywhere.
#[derive(Debug, Default)]
pub struct SseDecoder {
    pending: Vec<u8>,
    name: Option<String>,
    data: Vec<String>,
}

impl SseDecoder {
    /// Adds a chunk and returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();

        while let Some(newline) = self.pending.iter().position(|b| *b == b'\n') {
            let mut line: Vec<u8> = self.pending.drain(..=newline).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line);
            if let Some(event) = self.take_line(&line) {
                events.push(event);
            }
        }
        events
    }

    fn take_line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        // Lines starting with a colon are comments, such as keep-alives.
        if line.starts_with(':') {
            return None;
        }

        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.name = Some(value.to_string()),
            "data" => self.data.push(value.to_string()),
            // `id` and `retry` matter only to a reconnecting browser.
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let name = self.name.take();
        if self.data.is_empty() {
            return None;
        }
        let data = std::mem::take(&mut self.data).join("\n");
        Some(SseEvent { name: name.unwrap_or_else(|| "message".to_string()), data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_joins_split_chunks() {
        let mut decoder = SseDecoder::default();

        assert!(decoder.push(b"event: lo").is_empty());
        assert!(decoder.push(b"g\ndata: {\"line\":").is_empty());
        let events = decoder.push(b"\"a\"}\n\n");

        assert_eq!(events, vec![SseEvent { name: "log".into(), data: "{\"line\":\"a\"}".into() }]);
    }

    #[test]
    fn decoder_skips_comments_and_handles_crlf() {
        let mut decoder = SseDecoder::default();

        let events = decoder.push(b": keep-alive\r\n\r\ndata: one\r\ndata: two\r\n\r\n");

        assert_eq!(events, vec![SseEvent { name: "message".into(), data: "one\ntwo".into() }]);
    }

    #[test]
    fn decoder_resets_name_between_events() {
        let mut decoder = SseDecoder::default();

        let events = decoder.push(b"event: lagged\ndata: 3\n\ndata: plain\n\n");

        assert_eq!(events[0].name, "lagged");
        assert_eq!(events[1].name, "message");
    }
}
