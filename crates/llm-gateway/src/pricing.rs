//! Model prices and cost computation.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::metering::TokenUsage;

const BUILTIN_PRICES: &str = include_str!("prices.toml");

const TOKENS_PER_MILLION: f64 = 1_000_000.0;

/// Prices of one model, in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelPrice {
    pub input: f64,
    pub output: f64,
    /// Price of prompt tokens read from the cache; `input` applies when absent.
    #[serde(default)]
    pub cached_input: Option<f64>,
}

impl ModelPrice {
    /// Computes the cost in USD of `usage`, where `usage.input` includes the
    /// cached tokens.
    pub fn cost_usd(&self, usage: &TokenUsage) -> f64 {
        let uncached_input = usage.input.saturating_sub(usage.cached) as f64;
        let cached_price = self.cached_input.unwrap_or(self.input);
        (uncached_input * self.input
            + usage.cached as f64 * cached_price
            + usage.output as f64 * self.output)
            / TOKENS_PER_MILLION
    }
}

/// Failure to parse a price table.
#[derive(Debug, thiserror::Error)]
#[error("invalid price table: {0}; expected [provider.\"model\"] tables with input, output and optional cached_input in USD per million tokens")]
pub struct PriceTableError(#[from] toml::de::Error);

/// Prices per provider name and model id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PriceTable {
    providers: HashMap<String, HashMap<String, ModelPrice>>,
}

impl PriceTable {
    /// Returns the table shipped with GoPilot.
    pub fn builtin() -> Self {
        Self::from_toml(BUILTIN_PRICES).expect("the built-in price table is valid TOML")
    }

    /// Parses a table in the format of the built-in one:
    /// `[provider."model"]` with `input`, `output` and optional `cached_input`.
    pub fn from_toml(text: &str) -> Result<Self, PriceTableError> {
        Ok(toml::from_str(text)?)
    }

    /// Adds or replaces the price of one model.
    pub fn insert(&mut self, provider: &str, model: &str, price: ModelPrice) {
        self.providers
            .entry(provider.to_owned())
            .or_default()
            .insert(model.to_owned(), price);
    }

    /// Merges `overrides` into this table: their entries replace entries of
    /// the same provider and model, and the rest are kept.
    pub fn merge(&mut self, overrides: PriceTable) {
        for (provider, models) in overrides.providers {
            self.providers.entry(provider).or_default().extend(models);
        }
    }

    /// Finds the price of `model`: the exact id first, then the base name of
    /// a dated snapshot (`gpt-4o-2024-08-06` uses `gpt-4o`,
    /// `claude-sonnet-4-5-20250929` uses `claude-sonnet-4-5`).
    pub fn lookup(&self, provider: &str, model: &str) -> Option<&ModelPrice> {
        let models = self.providers.get(provider)?;
        if let Some(price) = models.get(model) {
            return Some(price);
        }
        let base = strip_date_suffix(model)?;
        models.get(base)
    }
}

/// Returns `model` without a trailing `-YYYYMMDD`, `-YYYY-MM-DD` or `-latest`.
fn strip_date_suffix(model: &str) -> Option<&str> {
    if let Some(base) = model.strip_suffix("-latest") {
        return Some(base);
    }
    let (base, suffix) = model.rsplit_once('-')?;
    if suffix.len() == 8 && suffix.bytes().all(|byte| byte.is_ascii_digit()) {
        return Some(base);
    }

    // `-YYYY-MM-DD` splits into three dash-separated numeric parts.
    let mut parts = model.rsplitn(4, '-');
    let day = parts.next()?;
    let month = parts.next()?;
    let year = parts.next()?;
    let base = parts.next()?;
    let is_number = |part: &str, len: usize| {
        part.len() == len && part.bytes().all(|byte| byte.is_ascii_digit())
    };
    if is_number(year, 4) && is_number(month, 2) && is_number(day, 2) {
        return Some(base);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_has_current_models() {
        let table = PriceTable::builtin();
        for (provider, model) in [
            ("anthropic", "claude-sonnet-4-6"),
            ("anthropic", "claude-opus-4-5"),
            ("anthropic", "claude-haiku-4-5"),
            ("openai", "gpt-4o"),
            ("openai", "gpt-4.1"),
            ("openai", "gpt-5"),
            ("openrouter", "openai/gpt-4o"),
        ] {
            assert!(
                table.lookup(provider, model).is_some(),
                "{provider}/{model} missing"
            );
        }
    }

    #[test]
    fn lookup_strips_date_suffixes() {
        let table = PriceTable::builtin();
        let base = table.lookup("openai", "gpt-4o").copied();
        assert_eq!(table.lookup("openai", "gpt-4o-2024-08-06").copied(), base);
        let sonnet = table.lookup("anthropic", "claude-sonnet-4-5").copied();
        assert_eq!(
            table
                .lookup("anthropic", "claude-sonnet-4-5-20250929")
                .copied(),
            sonnet
        );
    }

    #[test]
    fn lookup_keeps_distinct_variants() {
        let table = PriceTable::builtin();
        let mini = table.lookup("openai", "gpt-4o-mini").unwrap();
        let full = table.lookup("openai", "gpt-4o").unwrap();
        assert_ne!(mini, full);
        assert!(table.lookup("openai", "gpt-4o-unreleased").is_none());
        assert!(table.lookup("anthropic", "claude-sonnet-4-9").is_none());
    }

    #[test]
    fn merge_overrides_and_keeps_rest() {
        let mut table = PriceTable::builtin();
        let overrides = PriceTable::from_toml(
            "[openai.\"gpt-4o\"]\ninput = 1.0\noutput = 2.0\n[local.\"llama\"]\ninput = 0.0\noutput = 0.0\n",
        )
        .unwrap();
        table.merge(overrides);

        let gpt_4o = table.lookup("openai", "gpt-4o").unwrap();
        assert_eq!(gpt_4o.input, 1.0);
        assert_eq!(gpt_4o.cached_input, None);
        assert!(table.lookup("openai", "gpt-5").is_some());
        assert!(table.lookup("local", "llama").is_some());
    }

    #[test]
    fn cost_splits_cached_input() {
        let price = ModelPrice {
            input: 3.0,
            output: 15.0,
            cached_input: Some(0.3),
        };
        let usage = TokenUsage {
            input: 1_000_000,
            cached: 400_000,
            output: 100_000,
        };
        let expected = 0.6 * 3.0 + 0.4 * 0.3 + 0.1 * 15.0;
        assert!((price.cost_usd(&usage) - expected).abs() < 1e-9);
    }

    #[test]
    fn invalid_table_rejected() {
        let error = PriceTable::from_toml("[openai.\"gpt-4o\"]\ninput = \"cheap\"\n").unwrap_err();
        assert!(error.to_string().contains("invalid price table"));
    }
}
