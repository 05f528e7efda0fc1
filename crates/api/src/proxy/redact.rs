//! Masks secrets in text that leaves the platform, such as runtime log lines.
//!
//! Recognised forms, each with the secret part replaced by [`MASK`]:
//! GoPilot API keys (`gopt_live_...`), OpenAI and Anthropic style keys
//! (`sk-...`), Slack tokens (`xoxb-`, `xoxp-`, `xapp-`), Telegram bot tokens
//! (`<bot id>:<35 characters>`) and bearer tokens (`Bearer ...`). Prefixes
//! stay so that a reader can still tell which kind of secret was there.

use std::borrow::Cow;

/// Text that replaces a secret.
pub const MASK: &str = "[REDACTED]";

/// A secret that starts with a fixed prefix.
struct PrefixRule {
    prefix: &'static str,
    /// Minimum number of token characters after the prefix for a match, so that words
    /// such as `sk-learn` stay readable.
    min_len: usize,
    /// Whether the prefix matches in any letter case (`Bearer`, `bearer`).
    ignore_case: bool,
}

const PREFIX_RULES: &[PrefixRule] = &[
    PrefixRule { prefix: "gopt_live_", min_len: 8, ignore_case: false },
    PrefixRule { prefix: "sk-", min_len: 16, ignore_case: false },
    PrefixRule { prefix: "xoxb-", min_len: 8, ignore_case: false },
    PrefixRule { prefix: "xoxp-", min_len: 8, ignore_case: false },
    PrefixRule { prefix: "xapp-", min_len: 8, ignore_case: false },
    PrefixRule { prefix: "Bearer ", min_len: 16, ignore_case: true },
];

/// Digits of a Telegram bot id, and the length of the secret after the colon.
const TELEGRAM_BOT_ID_DIGITS: std::ops::RangeInclusive<usize> = 5..=12;
const TELEGRAM_SECRET_MIN_LEN: usize = 30;

/// Returns `text` with every recognised secret masked, borrowing it when
/// nothing matched.
pub fn redact_secrets(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut output: Option<String> = None;
    let mut copied_up_to = 0;
    let mut index = 0;

    while index < bytes.len() {
        let Some((keep_end, secret_end)) = match_secret(bytes, index) else {
            index += 1;
            continue;
        };

        // Every boundary found here sits next to an ASCII byte, so slicing
        // the UTF-8 text at it is safe.
        let out = output.get_or_insert_with(|| String::with_capacity(text.len()));
        out.push_str(&text[copied_up_to..keep_end]);
        out.push_str(MASK);
        copied_up_to = secret_end;
        index = secret_end;
    }

    match output {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[copied_up_to..]);
            Cow::Owned(out)
        }
    }
}

/// Matches a secret starting at `start`. Returns the end of the part to keep
/// (the prefix) and the end of the secret.
fn match_secret(bytes: &[u8], start: usize) -> Option<(usize, usize)> {
    match_prefix_rule(bytes, start).or_else(|| match_telegram_token(bytes, start))
}

fn match_prefix_rule(bytes: &[u8], start: usize) -> Option<(usize, usize)> {
    // A prefix inside a longer word (`task-...`, `disk-...`) is no key.
    if start > 0 && is_token_byte(bytes[start - 1]) {
        return None;
    }

    for rule in PREFIX_RULES {
        let prefix = rule.prefix.as_bytes();
        let Some(candidate) = bytes.get(start..start + prefix.len()) else {
            continue;
        };
        let prefix_matches = if rule.ignore_case {
            candidate.eq_ignore_ascii_case(prefix)
        } else {
            candidate == prefix
        };
        if !prefix_matches {
            continue;
        }

        let secret_start = start + prefix.len();
        let secret_end = token_end(bytes, secret_start);
        if secret_end - secret_start >= rule.min_len {
            return Some((secret_start, secret_end));
        }
    }
    None
}

/// Matches `<digits>:<token>`, the form of a Telegram bot token. The digits
/// may follow letters, as in the Bot API's `/bot<token>/` URLs.
fn match_telegram_token(bytes: &[u8], start: usize) -> Option<(usize, usize)> {
    if start > 0 && bytes[start - 1].is_ascii_digit() {
        return None;
    }

    let digits_end = start + bytes[start..].iter().take_while(|b| b.is_ascii_digit()).count();
    if !TELEGRAM_BOT_ID_DIGITS.contains(&(digits_end - start)) || bytes.get(digits_end) != Some(&b':') {
        return None;
    }

    let secret_start = digits_end + 1;
    let secret_end = token_end(bytes, secret_start);
    (secret_end - secret_start >= TELEGRAM_SECRET_MIN_LEN).then_some((secret_start, secret_end))
}

/// Returns the end of the run of token characters that starts at `start`.
fn token_end(bytes: &[u8], start: usize) -> usize {
    start + bytes[start..].iter().take_while(|b| is_token_byte(**b)).count()
}

/// Characters that API keys and tokens are made of.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' || byte == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gopilot_api_key_is_masked() {
        let line = "using key gopt_live_AbC123xyz789QWE for the request";
        assert_eq!(redact_secrets(line), "using key gopt_live_[REDACTED] for the request");
    }

    #[test]
    fn provider_keys_are_masked() {
        let line = "OPENAI_API_KEY=sk-proj-abcdefghijklmnop1234 ANTHROPIC=sk-ant-api03-ZZZZZZZZZZZZZZZZZZZZ";
        assert_eq!(redact_secrets(line), "OPENAI_API_KEY=sk-[REDACTED] ANTHROPIC=sk-[REDACTED]");
    }

    #[test]
    fn slack_tokens_are_masked() {
        let line = "slack bot=xoxb-1234-5678-abcdefgh app=xapp-1-A0B1C2D3-999 user=xoxp-11111-22222";
        assert_eq!(
            redact_secrets(line),
            "slack bot=xoxb-[REDACTED] app=xapp-[REDACTED] user=xoxp-[REDACTED]"
        );
    }

    #[test]
    fn telegram_token_is_masked() {
        let token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
        let line = format!("GET https://telegram.example/bot{token}/getUpdates failed");
        assert_eq!(
            redact_secrets(&line),
            "GET https://telegram.example/bot123456789:[REDACTED]/getUpdates failed"
        );
    }

    #[test]
    fn bearer_token_is_masked() {
        let line = "header authorization: bearer 0123456789abcdefghijABCDEFGHIJ";
        assert_eq!(redact_secrets(line), "header authorization: bearer [REDACTED]");
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        let lines = [
            "gateway listening on 0.0.0.0:18789",
            "installed scikit sk-learn and task-runner",
            "time 12:30:45, pid 4242",
            "Bearer short",
            "unicode: ünïcödé sk-",
        ];
        for line in lines {
            let redacted = redact_secrets(line);
            assert!(matches!(redacted, Cow::Borrowed(_)), "changed {line:?} to {redacted:?}");
        }
    }

    #[test]
    fn prefix_inside_word_is_kept() {
        let line = "disk-abcdefghijklmnopqrstuvwxyz is mounted";
        assert_eq!(redact_secrets(line), line);
    }

    #[test]
    fn text_around_multibyte_characters_survives() {
        let line = "clé → sk-abcdefghijklmnopqrstu ✓";
        assert_eq!(redact_secrets(line), "clé → sk-[REDACTED] ✓");
    }
}
