//! Provider API families and the endpoints a gateway path can address.

use axum::http::Method;

use crate::metering::Protocol;

/// The API family of a provider, which fixes its endpoints and key header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiFamily {
    /// Anthropic Messages; the key goes in `x-api-key`.
    Anthropic,
    /// OpenAI and OpenAI-compatible APIs; the key goes in `Authorization: Bearer`.
    OpenAiCompatible,
}

impl ApiFamily {
    /// Returns the family of a provider name: `anthropic` is the only
    /// Anthropic one, the others speak the OpenAI API.
    pub(crate) fn of(provider: &str) -> Self {
        if provider == "anthropic" {
            Self::Anthropic
        } else {
            Self::OpenAiCompatible
        }
    }
}

/// An upstream endpoint the gateway forwards to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Messages,
    ChatCompletions,
    Responses,
    /// `GET v1/models` and `GET v1/models/{id}`, forwarded without metering.
    Models,
}

impl Endpoint {
    /// Matches `path` (relative to the provider prefix, such as
    /// `v1/chat/completions`) against the endpoints of `family`.
    pub(crate) fn parse(family: ApiFamily, method: &Method, path: &str) -> Option<Self> {
        let path = path.trim_matches('/');
        if method == Method::GET && (path == "v1/models" || is_single_model(path)) {
            return Some(Self::Models);
        }
        if method != Method::POST {
            return None;
        }
        match (family, path) {
            (ApiFamily::Anthropic, "v1/messages") => Some(Self::Messages),
            (ApiFamily::OpenAiCompatible, "v1/chat/completions") => Some(Self::ChatCompletions),
            (ApiFamily::OpenAiCompatible, "v1/responses") => Some(Self::Responses),
            _ => None,
        }
    }

    /// Returns the protocol to meter, or `None` for endpoints that use no tokens.
    pub(crate) fn metered_protocol(self) -> Option<Protocol> {
        match self {
            Self::Messages => Some(Protocol::AnthropicMessages),
            Self::ChatCompletions => Some(Protocol::OpenAiChatCompletions),
            Self::Responses => Some(Protocol::OpenAiResponses),
            Self::Models => None,
        }
    }
}

/// Matches `v1/models/{id}`. OpenRouter model ids contain one `/`.
fn is_single_model(path: &str) -> bool {
    path.strip_prefix("v1/models/")
        .is_some_and(|id| !id.is_empty() && !id.contains(".."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_per_family() {
        let cases = [
            (
                ApiFamily::Anthropic,
                Method::POST,
                "v1/messages",
                Some(Endpoint::Messages),
            ),
            (
                ApiFamily::Anthropic,
                Method::POST,
                "v1/chat/completions",
                None,
            ),
            (
                ApiFamily::OpenAiCompatible,
                Method::POST,
                "/v1/chat/completions",
                Some(Endpoint::ChatCompletions),
            ),
            (
                ApiFamily::OpenAiCompatible,
                Method::POST,
                "v1/responses",
                Some(Endpoint::Responses),
            ),
            (
                ApiFamily::OpenAiCompatible,
                Method::POST,
                "v1/messages",
                None,
            ),
            (
                ApiFamily::OpenAiCompatible,
                Method::GET,
                "v1/chat/completions",
                None,
            ),
            (
                ApiFamily::OpenAiCompatible,
                Method::GET,
                "v1/models",
                Some(Endpoint::Models),
            ),
            (
                ApiFamily::Anthropic,
                Method::GET,
                "v1/models/claude-sonnet-4-6",
                Some(Endpoint::Models),
            ),
            (
                ApiFamily::OpenAiCompatible,
                Method::GET,
                "v1/models/../../admin",
                None,
            ),
            (
                ApiFamily::OpenAiCompatible,
                Method::DELETE,
                "v1/models",
                None,
            ),
        ];
        for (family, method, path, expected) in cases {
            assert_eq!(
                Endpoint::parse(family, &method, path),
                expected,
                "{method} {path}"
            );
        }
    }
}
