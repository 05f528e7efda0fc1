//! A tiny OpenAI-compatible provider on 127.0.0.1. It returns a fixed text
//! for every chat completion, as JSON or as SSE when `stream` is true.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub const FAKE_REPLY: &str = "Fake provider reply: the image works.";
pub const FAKE_MODEL: &str = "fake-model";

pub struct FakeProvider {
    pub port: u16,
    chat_requests: Arc<AtomicUsize>,
}

impl FakeProvider {
    /// Starts the server on a free loopback port; it runs until the test
    /// binary exits.
    pub fn start() -> FakeProvider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake provider");
        let port = listener.local_addr().unwrap().port();
        let chat_requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&chat_requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || {
                    if let Err(error) = serve(stream, &counter) {
                        eprintln!("fake provider: {error}");
                    }
                });
            }
        });
        FakeProvider {
            port,
            chat_requests,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    pub fn chat_requests(&self) -> usize {
        self.chat_requests.load(Ordering::SeqCst)
    }
}

fn serve(stream: TcpStream, chat_requests: &AtomicUsize) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_string();

        let mut content_length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body)?;
        let request: serde_json::Value =
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);

        if path.ends_with("/chat/completions") {
            chat_requests.fetch_add(1, Ordering::SeqCst);
            let streaming = request
                .get("stream")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false);
            if streaming {
                write_stream(&mut stream)?;
                return Ok(());
            }
            write_json(&mut stream, 200, &completion())?;
        } else if path.ends_with("/models") {
            write_json(
                &mut stream,
                200,
                &serde_json::json!({"object": "list", "data": [{"id": FAKE_MODEL, "object": "model", "owned_by": "fake"}]}),
            )?;
        } else {
            write_json(
                &mut stream,
                404,
                &serde_json::json!({"error": {"message": format!("no route {path}"), "type": "not_found"}}),
            )?;
        }
    }
}

fn completion() -> serde_json::Value {
    serde_json::json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_800_000_000,
        "model": FAKE_MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": FAKE_REPLY}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}
    })
}

fn write_json(
    stream: &mut TcpStream,
    status: u16,
    body: &serde_json::Value,
) -> std::io::Result<()> {
    let body = body.to_string();
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn write_stream(stream: &mut TcpStream) -> std::io::Result<()> {
    let chunk = |delta: serde_json::Value, finish: serde_json::Value, usage: serde_json::Value| {
        serde_json::json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1_800_000_000,
            "model": FAKE_MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            "usage": usage
        })
    };
    let events = [
        chunk(
            serde_json::json!({"role": "assistant", "content": FAKE_REPLY}),
            serde_json::Value::Null,
            serde_json::Value::Null,
        ),
        chunk(
            serde_json::json!({}),
            serde_json::json!("stop"),
            serde_json::json!({"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}),
        ),
    ];
    write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n")?;
    for event in events {
        write!(stream, "data: {event}\n\n")?;
    }
    write!(stream, "data: [DONE]\n\n")?;
    stream.flush()
}
