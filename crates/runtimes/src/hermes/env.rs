//! `/workspace/.env`: the API server switch and key, the gateway token for
//! the Anthropic provider, and channel tokens and allow-lists, in the
//! variable names that Hermes Agent 0.19.0 reads.

use super::API_SERVER_PORT;
use crate::render::{RenderError, RenderInput};

/// Lines of a dotenv file, checked so that no value can break out of its line.
struct EnvFile {
    text: String,
}

impl EnvFile {
    fn set(&mut self, name: &str, value: &str, field: &str) -> Result<(), RenderError> {
        if value.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '\\' | '#')) {
            return Err(RenderError::invalid_config(
                field,
                "must not contain whitespace, quotes, '\\' or '#', which the runtime's .env file cannot hold",
            ));
        }
        self.text.push_str(&format!("{name}={value}\n"));
        Ok(())
    }

    /// Sets `<PREFIX>_ALLOWED_USERS`, or `<PREFIX>_ALLOW_ALL_USERS=true` for
    /// an empty list, which the public API defines as "everyone". Hermes
    /// denies everyone when neither is set.
    fn allow_list(&mut self, prefix: &str, entries: &[String], field: &str) -> Result<(), RenderError> {
        if entries.is_empty() {
            return self.set(&format!("{prefix}_ALLOW_ALL_USERS"), "true", field);
        }
        self.set(&format!("{prefix}_ALLOWED_USERS"), &entries.join(","), field)
    }
}

pub(super) fn render(input: &RenderInput, anthropic: bool) -> Result<String, RenderError> {
    let mut env = EnvFile { text: String::from("# Written by GoPilot; changes are overwritten.\n") };

    env.set("API_SERVER_ENABLED", "true", "runtime")?;
    env.set("API_SERVER_HOST", input.bind_host, "bind_host")?;
    env.set("API_SERVER_PORT", &API_SERVER_PORT.to_string(), "runtime")?;
    env.set("API_SERVER_KEY", &input.secrets.runtime_token, "runtime_token")?;
    env.set("API_SERVER_MODEL_NAME", &input.spec.model.name, "model")?;
    if anthropic {
        env.set("ANTHROPIC_API_KEY", &input.secrets.gateway_token, "gateway_token")?;
    }

    let channels = &input.spec.channels;
    if let Some(slack) = &channels.slack {
        env.set("SLACK_BOT_TOKEN", &slack.bot_token, "channels.slack.botToken")?;
        env.set("SLACK_APP_TOKEN", &slack.app_token, "channels.slack.appToken")?;
        env.allow_list("SLACK", &slack.allow_from, "channels.slack.allowFrom")?;
    }
    if let Some(discord) = &channels.discord {
        env.set("DISCORD_BOT_TOKEN", &discord.bot_token, "channels.discord.botToken")?;
        env.allow_list("DISCORD", &discord.allow_from, "channels.discord.allowFrom")?;
    }
    if let Some(telegram) = &channels.telegram {
        env.set("TELEGRAM_BOT_TOKEN", &telegram.bot_token, "channels.telegram.botToken")?;
        env.allow_list("TELEGRAM", &telegram.allow_from, "channels.telegram.allowFrom")?;
    }
    if let Some(whatsapp) = &channels.whatsapp {
        // Hermes' WhatsApp bridge is paired by QR code after start; `bot`
        // mode replies to messages sent to the linked number. Its setup wizard
        // stores numbers as digits without `+`.
        env.set("WHATSAPP_ENABLED", "true", "channels.whatsapp")?;
        env.set("WHATSAPP_MODE", "bot", "channels.whatsapp")?;
        let numbers: Vec<String> =
            whatsapp.allow_from.iter().map(|number| number.trim_start_matches('+').to_string()).collect();
        env.allow_list("WHATSAPP", &numbers, "channels.whatsapp.allowFrom")?;
    }
    // TODO: email is not rendered. Hermes 0.19.0 reads mail over IMAP and
    // SMTP with EMAIL_ADDRESS and EMAIL_PASSWORD, and the public API's Gmail
    // channel is paired by OAuth, which Hermes does not support.
    Ok(env.text)
}
