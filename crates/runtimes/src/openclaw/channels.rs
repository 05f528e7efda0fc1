//! `channels.<kind>` sections of `openclaw.json`, in the shape of OpenClaw
//! 2026.9.6's schema. Fields that the schema lists as required are written
//! out with OpenClaw's own defaults, because the schema check does not fill
//! in defaults.

use gopilot_core::Channels;
use serde_json::{json, Map, Value};

/// Access policy from an allow-list. The public API's empty list allows
/// everyone, which OpenClaw spells `dmPolicy: "open"` with `allowFrom: ["*"]`.
fn access(allow_from: &[String]) -> (Value, Value, Value) {
    if allow_from.is_empty() {
        (json!("open"), json!(["*"]), json!("open"))
    } else {
        (json!("allowlist"), json!(allow_from), json!("allowlist"))
    }
}

/// Builds the `channels` object; empty when the agent has no channel that
/// OpenClaw can configure from a file.
pub(super) fn section(channels: &Channels) -> Map<String, Value> {
    let mut section = Map::new();

    if let Some(slack) = &channels.slack {
        let (dm_policy, allow_from, group_policy) = access(&slack.allow_from);
        section.insert(
            "slack".into(),
            json!({
                "enabled": true,
                "mode": "socket",
                "appToken": slack.app_token,
                "botToken": slack.bot_token,
                "dmPolicy": dm_policy,
                "allowFrom": allow_from,
                "groupPolicy": group_policy,
                "postAs": "bot",
                "webhookPath": "/slack/events",
                "userTokenReadOnly": true,
            }),
        );
    }

    if let Some(discord) = &channels.discord {
        let (dm_policy, allow_from, group_policy) = access(&discord.allow_from);
        section.insert(
            "discord".into(),
            json!({
                "enabled": true,
                "token": discord.bot_token,
                "dmPolicy": dm_policy,
                "allowFrom": allow_from,
                "groupPolicy": group_policy,
            }),
        );
    }

    if let Some(telegram) = &channels.telegram {
        let (dm_policy, allow_from, group_policy) = access(&telegram.allow_from);
        section.insert(
            "telegram".into(),
            json!({
                "enabled": true,
                "botToken": telegram.bot_token,
                "dmPolicy": dm_policy,
                "allowFrom": allow_from,
                "groupPolicy": group_policy,
            }),
        );
    }

    if let Some(whatsapp) = &channels.whatsapp {
        // WhatsApp has no credential here: it is linked by QR code after start.
        let (dm_policy, allow_from, group_policy) = access(&whatsapp.allow_from);
        section.insert(
            "whatsapp".into(),
            json!({
                "enabled": true,
                "dmPolicy": dm_policy,
                "allowFrom": allow_from,
                "groupPolicy": group_policy,
                "mediaMaxMb": 50,
            }),
        );
    }

    // TODO: email is not rendered. OpenClaw 2026.9.6 has no email channel.
    // Its `imap` plugin needs a mailbox password and its Gmail hook
    // (`hooks.gmail`) needs Google Pub/Sub push, but the public API's Gmail
    // channel is paired by OAuth.
    section
}
