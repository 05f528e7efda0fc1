//! Messaging channels and their credentials.
//!
//! Field names follow the public API's channel table (`appToken`,
//! `botToken`). Credentials are secrets: they are sealed at rest and only
//! [`ChannelSummary`] values, which carry hints, leave the store.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::secret::secret_hint;
use crate::validate::ValidationError;

/// Kinds of channel an agent can be reached on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Slack,
    Discord,
    Telegram,
    Whatsapp,
    Email,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 5] = [
        ChannelKind::Slack,
        ChannelKind::Discord,
        ChannelKind::Telegram,
        ChannelKind::Whatsapp,
        ChannelKind::Email,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Slack => "slack",
            ChannelKind::Discord => "discord",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Whatsapp => "whatsapp",
            ChannelKind::Email => "email",
        }
    }
}

/// Slack in Socket Mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlackChannel {
    /// App-level token for Socket Mode, `xapp-...`.
    pub app_token: String,
    /// Bot user OAuth token, `xoxb-...`.
    pub bot_token: String,
    /// Slack user ids allowed to talk to the agent; empty allows everyone.
    #[serde(default)]
    pub allow_from: Vec<String>,
}

/// A Discord bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiscordChannel {
    pub bot_token: String,
    /// Discord user ids allowed to talk to the agent; empty allows everyone.
    #[serde(default)]
    pub allow_from: Vec<String>,
}

/// A Telegram bot created with @BotFather.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TelegramChannel {
    /// Token of the form `123456789:AA...`.
    pub bot_token: String,
    /// Telegram user ids allowed to talk to the agent; empty allows everyone.
    #[serde(default)]
    pub allow_from: Vec<String>,
}

/// WhatsApp, paired by QR code once the agent runs, so it has no credential.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WhatsappChannel {
    /// Phone numbers in E.164 form allowed to talk to the agent.
    #[serde(default)]
    pub allow_from: Vec<String>,
}

/// Email through Gmail, paired by OAuth once the agent runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailChannel {
    /// Mail provider; only `gmail` is supported.
    #[serde(default = "default_email_provider")]
    pub provider: String,
    /// Sender addresses allowed to talk to the agent.
    #[serde(default)]
    pub allow_from: Vec<String>,
}

fn default_email_provider() -> String {
    "gmail".to_string()
}

/// The channels of one agent, at most one of each kind.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Channels {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackChannel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discord: Option<DiscordChannel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram: Option<TelegramChannel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<WhatsappChannel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailChannel>,
}

/// What a response shows of one channel: its kind, allow-list and hints of
/// its credentials, never the credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChannelSummary {
    pub kind: ChannelKind,
    /// Hints of the credentials, keyed by credential name (`botToken`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub credential_hints: std::collections::BTreeMap<String, String>,
    pub allow_from: Vec<String>,
    /// True for channels paired after start (WhatsApp QR, Gmail OAuth).
    pub needs_pairing: bool,
}

impl Channels {
    pub fn is_empty(&self) -> bool {
        self.kinds().is_empty()
    }

    pub fn kinds(&self) -> Vec<ChannelKind> {
        let present = [
            self.slack.is_some(),
            self.discord.is_some(),
            self.telegram.is_some(),
            self.whatsapp.is_some(),
            self.email.is_some(),
        ];
        ChannelKind::ALL
            .into_iter()
            .zip(present)
            .filter_map(|(kind, on)| on.then_some(kind))
            .collect()
    }

    pub fn summaries(&self) -> Vec<ChannelSummary> {
        let mut out = Vec::new();
        if let Some(c) = &self.slack {
            out.push(summary(
                ChannelKind::Slack,
                &[("appToken", &c.app_token), ("botToken", &c.bot_token)],
                &c.allow_from,
                false,
            ));
        }
        if let Some(c) = &self.discord {
            out.push(summary(ChannelKind::Discord, &[("botToken", &c.bot_token)], &c.allow_from, false));
        }
        if let Some(c) = &self.telegram {
            out.push(summary(ChannelKind::Telegram, &[("botToken", &c.bot_token)], &c.allow_from, false));
        }
        if let Some(c) = &self.whatsapp {
            out.push(summary(ChannelKind::Whatsapp, &[], &c.allow_from, true));
        }
        if let Some(c) = &self.email {
            out.push(summary(ChannelKind::Email, &[], &c.allow_from, true));
        }
        out
    }

    /// Checks every credential's shape so that a token the platform would
    /// reject fails at the API rather than in a crash-looping runtime.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(c) = &self.slack {
            check_token("channels.slack.appToken", &c.app_token, Some("xapp-"))?;
            check_token("channels.slack.botToken", &c.bot_token, Some("xoxb-"))?;
            check_allow_list("channels.slack.allowFrom", &c.allow_from, is_plain_id)?;
        }
        if let Some(c) = &self.discord {
            check_token("channels.discord.botToken", &c.bot_token, None)?;
            if c.bot_token.split('.').count() != 3 {
                return Err(ValidationError::new(
                    "channels.discord.botToken",
                    "must be a Discord bot token: three dot-separated parts",
                ));
            }
            check_allow_list("channels.discord.allowFrom", &c.allow_from, is_numeric_id)?;
        }
        if let Some(c) = &self.telegram {
            check_token("channels.telegram.botToken", &c.bot_token, None)?;
            if !is_telegram_token(&c.bot_token) {
                return Err(ValidationError::new(
                    "channels.telegram.botToken",
                    "must be a Telegram bot token such as 123456789:AAH..., as issued by @BotFather",
                ));
            }
            check_allow_list("channels.telegram.allowFrom", &c.allow_from, is_numeric_id)?;
        }
        if let Some(c) = &self.whatsapp {
            check_allow_list("channels.whatsapp.allowFrom", &c.allow_from, is_e164)?;
        }
        if let Some(c) = &self.email {
            if c.provider != "gmail" {
                return Err(ValidationError::new(
                    "channels.email.provider",
                    format!("unsupported email provider {:?}; only \"gmail\" is supported", c.provider),
                ));
            }
            check_allow_list("channels.email.allowFrom", &c.allow_from, is_email)?;
        }
        Ok(())
    }
}

fn summary(
    kind: ChannelKind,
    credentials: &[(&str, &String)],
    allow_from: &[String],
    needs_pairing: bool,
) -> ChannelSummary {
    ChannelSummary {
        kind,
        credential_hints: credentials
            .iter()
            .map(|(name, value)| (name.to_string(), secret_hint(value)))
            .collect(),
        allow_from: allow_from.to_vec(),
        needs_pairing,
    }
}

fn check_token(field: &str, token: &str, prefix: Option<&str>) -> Result<(), ValidationError> {
    if token.is_empty() {
        return Err(ValidationError::new(field, "is required"));
    }
    if token.len() > 512 {
        return Err(ValidationError::new(field, "must be at most 512 characters"));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValidationError::new(field, "must not contain whitespace"));
    }
    if let Some(prefix) = prefix {
        if !token.starts_with(prefix) || token.len() < prefix.len() + 8 {
            return Err(ValidationError::new(field, format!("must start with {prefix}")));
        }
    }
    Ok(())
}

fn check_allow_list(
    field: &str,
    entries: &[String],
    is_valid: fn(&str) -> bool,
) -> Result<(), ValidationError> {
    if entries.len() > 1000 {
        return Err(ValidationError::new(field, "must have at most 1000 entries"));
    }
    for (index, entry) in entries.iter().enumerate() {
        if !is_valid(entry) {
            return Err(ValidationError::new(
                format!("{field}[{index}]"),
                format!("{entry:?} is not a valid entry for this channel"),
            ));
        }
    }
    Ok(())
}

fn is_telegram_token(token: &str) -> bool {
    match token.split_once(':') {
        Some((bot_id, secret)) => {
            !bot_id.is_empty()
                && bot_id.len() <= 20
                && bot_id.bytes().all(|b| b.is_ascii_digit())
                && secret.len() >= 30
                && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        }
        None => false,
    }
}

fn is_plain_id(value: &str) -> bool {
    !value.is_empty() && value.len() <= 64 && value.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_numeric_id(value: &str) -> bool {
    !value.is_empty() && value.len() <= 32 && value.bytes().all(|b| b.is_ascii_digit())
}

fn is_e164(value: &str) -> bool {
    match value.strip_prefix('+') {
        Some(digits) => (6..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

fn is_email(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && value.len() <= 254
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn telegram(token: &str) -> Channels {
        Channels {
            telegram: Some(TelegramChannel { bot_token: token.into(), allow_from: vec![] }),
            ..Channels::default()
        }
    }

    #[test]
    fn telegram_token_shape() {
        assert!(telegram("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw").validate().is_ok());
        let err = telegram("not-a-token").validate().unwrap_err();
        assert_eq!(err.field, "channels.telegram.botToken");
    }

    #[test]
    fn slack_prefixes_checked() {
        let channels = Channels {
            slack: Some(SlackChannel {
                app_token: "xoxb-wrong-kind-of-token".into(),
                bot_token: "xoxb-1234567890-abcdef".into(),
                allow_from: vec![],
            }),
            ..Channels::default()
        };
        let err = channels.validate().unwrap_err();
        assert_eq!(err.field, "channels.slack.appToken");
        assert!(err.message.contains("xapp-"));
    }

    #[test]
    fn allow_list_entry_named() {
        let channels = Channels {
            whatsapp: Some(WhatsappChannel { allow_from: vec!["+15551234567".into(), "555".into()] }),
            ..Channels::default()
        };
        let err = channels.validate().unwrap_err();
        assert_eq!(err.field, "channels.whatsapp.allowFrom[1]");
    }

    #[test]
    fn summaries_hide_tokens() {
        let channels = telegram("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw");
        let json = serde_json::to_string(&channels.summaries()).unwrap();
        assert!(!json.contains("AAHdqTcv"));
        assert!(json.contains("...Dsaw"));
    }

    #[test]
    fn kinds_in_fixed_order() {
        let channels = Channels {
            email: Some(EmailChannel::default()),
            whatsapp: Some(WhatsappChannel::default()),
            ..Channels::default()
        };
        assert_eq!(channels.kinds(), vec![ChannelKind::Whatsapp, ChannelKind::Email]);
    }
}
