use super::RenderError;

/// Wire protocol of a provider route on the LLM gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderApi {
    /// Anthropic Messages (`POST /v1/messages`).
    AnthropicMessages,
    /// OpenAI Chat Completions (`POST /v1/chat/completions`).
    OpenaiCompletions,
}

impl ProviderApi {
    /// Returns the protocol the gateway speaks for `provider`: Anthropic
    /// Messages for `anthropic`, OpenAI Chat Completions for every other
    /// provider (`openai`, `openrouter` and OpenAI-compatible servers).
    pub fn of(provider: &str) -> ProviderApi {
        match provider {
            "anthropic" => ProviderApi::AnthropicMessages,
            _ => ProviderApi::OpenaiCompletions,
        }
    }
}

/// Returns the LLM gateway URL that serves `provider`, as the provider's SDK
/// expects its base URL: `<base>/anthropic` (Anthropic clients append
/// `/v1/messages`), and `<base>/openai/v1`, `<base>/openrouter/v1` or
/// `<base>/compat/<provider>/v1` (OpenAI clients append `/chat/completions`).
pub fn gateway_route(gateway_base_url: &str, provider: &str) -> Result<String, RenderError> {
    let base = gateway_base_url.trim_end_matches('/');
    let is_http = base.strip_prefix("http://").is_some_and(|rest| !rest.is_empty() && !rest.contains(['?', '#']));
    if !is_http {
        return Err(RenderError::InvalidSetting {
            name: "gateway_base_url",
            value: gateway_base_url.to_string(),
            reason: "must be an http:// URL without query or fragment, such as http://10.231.0.1:8181".to_string(),
        });
    }

    let route = match provider {
        "anthropic" => provider.to_string(),
        "openai" | "openrouter" => format!("{provider}/v1"),
        other => format!("compat/{other}/v1"),
    };
    Ok(format!("{base}/{route}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_per_provider() {
        let base = "http://10.231.0.1:8181/";
        assert_eq!(gateway_route(base, "anthropic").unwrap(), "http://10.231.0.1:8181/anthropic");
        assert_eq!(gateway_route(base, "openai").unwrap(), "http://10.231.0.1:8181/openai/v1");
        assert_eq!(gateway_route(base, "openrouter").unwrap(), "http://10.231.0.1:8181/openrouter/v1");
        assert_eq!(gateway_route(base, "my-vllm").unwrap(), "http://10.231.0.1:8181/compat/my-vllm/v1");
    }

    #[test]
    fn non_http_base_rejected() {
        let error = gateway_route("ftp://x", "openai").unwrap_err();
        assert!(matches!(error, RenderError::InvalidSetting { name: "gateway_base_url", .. }));
    }
}
