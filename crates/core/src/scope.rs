//! API key scopes.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// One permission an API key can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum Scope {
    #[serde(rename = "agents:read")]
    AgentsRead,
    #[serde(rename = "agents:write")]
    AgentsWrite,
    #[serde(rename = "agents:delete")]
    AgentsDelete,
    #[serde(rename = "usage:read")]
    UsageRead,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::AgentsRead,
        Scope::AgentsWrite,
        Scope::AgentsDelete,
        Scope::UsageRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::AgentsRead => "agents:read",
            Scope::AgentsWrite => "agents:write",
            Scope::AgentsDelete => "agents:delete",
            Scope::UsageRead => "usage:read",
        }
    }

    pub fn parse(value: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == value)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scopes of one API key, kept sorted and without duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeSet(Vec<Scope>);

/// A scope list that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}; valid scopes are agents:read, agents:write, agents:delete, usage:read")]
pub struct UnknownScope(pub String);

impl ScopeSet {
    pub fn all() -> ScopeSet {
        ScopeSet(Scope::ALL.to_vec())
    }

    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> ScopeSet {
        let mut scopes: Vec<Scope> = scopes.into_iter().collect();
        scopes.sort();
        scopes.dedup();
        ScopeSet(scopes)
    }

    /// Parses a comma-separated list such as `agents:read,usage:read`.
    pub fn parse_list(list: &str) -> Result<ScopeSet, UnknownScope> {
        let scopes = list
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| Scope::parse(part).ok_or_else(|| UnknownScope(part.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ScopeSet::new(scopes))
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// Returns the comma-separated form that `parse_list` reads.
    pub fn to_list(&self) -> String {
        self.0.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_list_sorts_and_dedups() {
        let set = ScopeSet::parse_list("usage:read, agents:read,usage:read").unwrap();
        assert_eq!(set.to_list(), "agents:read,usage:read");
    }

    #[test]
    fn parse_list_rejects_unknown() {
        let err = ScopeSet::parse_list("agents:read,agents:admin").unwrap_err();
        assert_eq!(err, UnknownScope("agents:admin".into()));
    }

    #[test]
    fn all_contains_every_scope() {
        let set = ScopeSet::all();
        for scope in Scope::ALL {
            assert!(set.contains(scope));
        }
    }
}
