//! Header rules for forwarding in both directions.

use axum::http::header::{self, HeaderMap, HeaderName};

/// Hop-by-hop headers (RFC 9110, section 7.6.1), which apply to one
/// connection and must not be forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Request headers the gateway sets itself or must not pass on:
/// - `host` and `content-length` follow from the upstream URL and the
///   (possibly rewritten) body;
/// - `authorization` and `x-api-key` carry the gateway token, replaced by the
///   provider key;
/// - `accept-encoding` is dropped so the upstream responds uncompressed and the
///   gateway can read usage from the body.
const REQUEST_REPLACED: [&str; 5] = [
    "host",
    "content-length",
    "authorization",
    "x-api-key",
    "accept-encoding",
];

/// Copies the runtime's request headers that may reach the upstream.
pub(crate) fn upstream_request_headers(incoming: &HeaderMap) -> HeaderMap {
    let mut headers = without_hop_by_hop(incoming);
    for name in REQUEST_REPLACED {
        headers.remove(name);
    }
    headers
}

/// Copies the upstream's response headers that may reach the runtime.
/// `content-length` is dropped because the body is re-framed.
pub(crate) fn downstream_response_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut headers = without_hop_by_hop(upstream);
    headers.remove(header::CONTENT_LENGTH);
    headers
}

/// Removes the hop-by-hop headers, including those the `Connection` header names.
fn without_hop_by_hop(source: &HeaderMap) -> HeaderMap {
    let named_by_connection: Vec<HeaderName> = source
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();

    let mut headers = source.clone();
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    for name in named_by_connection {
        headers.remove(name);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn request_headers_lose_auth_and_hops() {
        let mut incoming = HeaderMap::new();
        incoming.insert("authorization", HeaderValue::from_static("Bearer gw"));
        incoming.insert("x-api-key", HeaderValue::from_static("gw"));
        incoming.insert("host", HeaderValue::from_static("gateway"));
        incoming.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-session"),
        );
        incoming.insert("x-session", HeaderValue::from_static("1"));
        incoming.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));

        let forwarded = upstream_request_headers(&incoming);
        for removed in [
            "authorization",
            "x-api-key",
            "host",
            "connection",
            "x-session",
        ] {
            assert!(!forwarded.contains_key(removed), "{removed} was forwarded");
        }
        assert_eq!(forwarded.get("anthropic-version").unwrap(), "2023-06-01");
    }
}
