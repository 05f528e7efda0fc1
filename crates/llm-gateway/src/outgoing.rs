//! Building the request sent to the upstream provider.

use axum::http::{HeaderMap, HeaderValue};
use bytes::Bytes;
use serde_json::Value;
use url::Url;

use crate::endpoint::{ApiFamily, Endpoint};
use crate::error::GatewayError;
use crate::headers::upstream_request_headers;

/// Fields the gateway reads from a metered request's body.
#[derive(Debug, Default)]
pub(crate) struct RequestSummary {
    /// The `model` field, empty when absent.
    pub model: String,
}

/// Reads the model from a metered request and, for a streamed chat
/// completion, sets `stream_options.include_usage` so that the upstream ends
/// the stream with a usage chunk. Returns the body to forward, which is the
/// original bytes unless it had to change.
pub(crate) fn prepare_body(
    endpoint: Endpoint,
    body: Bytes,
) -> Result<(Bytes, RequestSummary), GatewayError> {
    if endpoint.metered_protocol().is_none() {
        return Ok((body, RequestSummary::default()));
    }

    let mut json: Value =
        serde_json::from_slice(&body).map_err(|error| GatewayError::InvalidJson {
            reason: error.to_string(),
        })?;
    let summary = RequestSummary {
        model: json
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    };

    let streaming = json.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if endpoint != Endpoint::ChatCompletions || !streaming {
        return Ok((body, summary));
    }
    let Some(object) = json.as_object_mut() else {
        return Ok((body, summary));
    };
    let options = object
        .entry("stream_options")
        .or_insert_with(|| Value::Object(Default::default()));
    if !options.is_object() {
        *options = Value::Object(Default::default());
    }
    options["include_usage"] = Value::Bool(true);

    let rewritten = serde_json::to_vec(&json).expect("a parsed JSON value serializes");
    Ok((Bytes::from(rewritten), summary))
}

/// Joins the upstream base URL with the path below the provider prefix, such
/// as `v1/messages`. A base URL that already ends in `/v1` does not get a
/// second `v1` segment.
pub(crate) fn upstream_url(base: &Url, path: &str, query: Option<&str>) -> Url {
    let base_path = base.path().trim_end_matches('/');
    let path = path.trim_start_matches('/');
    let path = match base_path.ends_with("/v1") {
        true => path.strip_prefix("v1/").unwrap_or(path),
        false => path,
    };

    let mut url = base.clone();
    url.set_path(&format!("{base_path}/{path}"));
    url.set_query(query);
    url
}

/// Builds the upstream headers: the runtime's headers without the gateway
/// token and hop-by-hop headers, plus the provider key where the provider
/// expects it.
pub(crate) fn upstream_headers(
    incoming: &HeaderMap,
    family: ApiFamily,
    provider: &str,
    provider_key: &str,
) -> Result<HeaderMap, GatewayError> {
    let mut headers = upstream_request_headers(incoming);
    let invalid_key = || GatewayError::InvalidProviderKey {
        provider: provider.to_owned(),
    };

    let (name, mut value) = match family {
        ApiFamily::Anthropic => (
            "x-api-key",
            HeaderValue::from_str(provider_key).map_err(|_| invalid_key())?,
        ),
        ApiFamily::OpenAiCompatible => (
            "authorization",
            HeaderValue::from_str(&format!("Bearer {provider_key}")).map_err(|_| invalid_key())?,
        ),
    };
    // Sensitive values are redacted from the `Debug` output of the headers.
    value.set_sensitive(true);
    headers.insert(name, value);
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_joins_with_and_without_v1() {
        let cases = [
            (
                "https://api.openai.com",
                "v1/chat/completions",
                "https://api.openai.com/v1/chat/completions",
            ),
            (
                "https://openrouter.ai/api/",
                "v1/models",
                "https://openrouter.ai/api/v1/models",
            ),
            (
                "http://127.0.0.1:8000/v1",
                "v1/chat/completions",
                "http://127.0.0.1:8000/v1/chat/completions",
            ),
            (
                "http://127.0.0.1:8000/v1/",
                "v1/models/x",
                "http://127.0.0.1:8000/v1/models/x",
            ),
        ];
        for (base, path, expected) in cases {
            let url = upstream_url(&Url::parse(base).unwrap(), path, None);
            assert_eq!(url.as_str(), expected);
        }
        let with_query = upstream_url(
            &Url::parse("http://a").unwrap(),
            "v1/models",
            Some("limit=2"),
        );
        assert_eq!(with_query.as_str(), "http://a/v1/models?limit=2");
    }

    #[test]
    fn streamed_chat_gets_include_usage() {
        let body = Bytes::from_static(
            br#"{"model":"gpt-4o","stream":true,"stream_options":{"other":1},"messages":[]}"#,
        );
        let (rewritten, summary) = prepare_body(Endpoint::ChatCompletions, body).unwrap();
        let json: Value = serde_json::from_slice(&rewritten).unwrap();
        assert_eq!(summary.model, "gpt-4o");
        assert_eq!(json["stream_options"]["include_usage"], Value::Bool(true));
        assert_eq!(json["stream_options"]["other"], 1);
    }

    #[test]
    fn other_bodies_forwarded_unchanged() {
        let body = Bytes::from_static(br#"{"model": "gpt-4o",  "messages": []}"#);
        let (forwarded, _) = prepare_body(Endpoint::ChatCompletions, body.clone()).unwrap();
        assert_eq!(forwarded, body);
        let invalid = prepare_body(Endpoint::Messages, Bytes::from_static(b"{not json"));
        assert!(matches!(invalid, Err(GatewayError::InvalidJson { .. })));
    }
}
