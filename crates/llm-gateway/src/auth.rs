//! Reading the gateway token from a runtime's request.

use axum::http::HeaderMap;

/// Returns the gateway token from `Authorization: Bearer` or, failing that,
/// `x-api-key`. OpenAI clients send the former and Anthropic clients the latter.
pub(crate) fn gateway_token(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(token.trim())
        })
        .filter(|token| !token.is_empty());
    if bearer.is_some() {
        return bearer;
    }
    headers
        .get("x-api-key")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn token_from_either_header() {
        let mut bearer = HeaderMap::new();
        bearer.insert("authorization", HeaderValue::from_static("Bearer gw-token"));
        assert_eq!(gateway_token(&bearer), Some("gw-token"));

        let mut api_key = HeaderMap::new();
        api_key.insert("x-api-key", HeaderValue::from_static("gw-token"));
        assert_eq!(gateway_token(&api_key), Some("gw-token"));
    }

    #[test]
    fn token_missing_or_empty() {
        assert_eq!(gateway_token(&HeaderMap::new()), None);
        let mut basic = HeaderMap::new();
        basic.insert("authorization", HeaderValue::from_static("Basic abc"));
        basic.insert("x-api-key", HeaderValue::from_static(" "));
        assert_eq!(gateway_token(&basic), None);
    }
}
