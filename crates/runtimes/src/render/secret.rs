use super::RenderError;

/// Minimum length of the token the control plane presents to the runtime's
/// API. Hermes 0.19.0 silently disables its API server for a key under 16
/// characters, so this is twice that.
pub const MIN_RUNTIME_TOKEN_CHARS: usize = 32;

/// Checks a platform-generated token: at least [`MIN_RUNTIME_TOKEN_CHARS`]
/// visible ASCII characters, because it travels in HTTP headers and in
/// `KEY=value` lines.
pub fn check_runtime_token(name: &'static str, token: &str) -> Result<(), RenderError> {
    let length = token.chars().count();
    if length < MIN_RUNTIME_TOKEN_CHARS {
        return Err(RenderError::InvalidSecret {
            name,
            reason: format!("has {length} characters but at least {MIN_RUNTIME_TOKEN_CHARS} are required"),
        });
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RenderError::InvalidSecret {
            name,
            reason: "must contain only visible ASCII characters".to_string(),
        });
    }
    Ok(())
}
