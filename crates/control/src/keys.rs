//! API keys: creation, authentication and revocation.

use gopilot_core::id::new_id;
use gopilot_core::secret::{generate_api_key, hash_token, is_well_formed_api_key, secret_hint};
use gopilot_core::{Scope, ScopeSet};
use gopilot_store::{Account, ApiKeyRecord, NewApiKey, Store};
use std::collections::HashMap;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

use crate::error::ServiceError;

/// How often a key's `last_used_at` is written at most, to keep
/// authentication from writing to the store on every request.
const LAST_USED_RESOLUTION: Duration = Duration::seconds(60);

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub account_id: String,
    pub key_id: String,
    pub scopes: ScopeSet,
}

impl Caller {
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(scope)
    }
}

/// A key just created: the only moment the full key exists outside the
/// caller's hands.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub record: ApiKeyRecord,
    pub key: String,
}

/// Why a presented key was not accepted. The API answers all of them with
/// 401; the distinction only reaches the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Malformed,
    Unknown,
    Revoked,
}

#[derive(Debug)]
pub struct KeyService {
    store: Store,
    last_touched: Mutex<HashMap<String, OffsetDateTime>>,
}

impl KeyService {
    pub fn new(store: Store) -> KeyService {
        KeyService { store, last_touched: Mutex::new(HashMap::new()) }
    }

    /// Creates the first account and a key with every scope when the store
    /// has no account yet. Returns the key only when it was created now.
    pub async fn bootstrap(&self) -> Result<Option<CreatedKey>, ServiceError> {
        if self.store.count_accounts().await? > 0 {
            return Ok(None);
        }
        let now = crate::clock::now();
        let account = Account { id: new_id("acc"), name: "default".into(), created_at: now };
        let (new_key, key) = new_key_record(&account.id, "default", ScopeSet::all(), now);

        if !self.store.bootstrap_account(&account, &new_key).await? {
            return Ok(None);
        }
        tracing::info!(account_id = %account.id, key_id = %new_key.id, "created default account and API key");
        let record = self.store.get_api_key(&new_key.id).await?.ok_or_else(|| ServiceError::NotFound {
            kind: "API key",
            id: new_key.id.clone(),
        })?;
        Ok(Some(CreatedKey { record, key }))
    }

    /// Creates an account (for operators hosting several tenants).
    pub async fn create_account(&self, name: &str) -> Result<Account, ServiceError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(gopilot_core::ValidationError::new("name", "must be 1 to 100 characters").into());
        }
        let account = Account { id: new_id("acc"), name: name.to_string(), created_at: crate::clock::now() };
        self.store.insert_account(&account).await?;
        tracing::info!(account_id = %account.id, "created account");
        Ok(account)
    }

    /// Creates a key for `account_id`, or for the first account when `None`.
    pub async fn create(
        &self,
        account_id: Option<&str>,
        name: &str,
        scopes: ScopeSet,
    ) -> Result<CreatedKey, ServiceError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(gopilot_core::ValidationError::new("name", "must be 1 to 100 characters").into());
        }
        if scopes.is_empty() {
            return Err(gopilot_core::ValidationError::new("scopes", "must name at least one scope").into());
        }

        let account_id = match account_id {
            Some(id) => self
                .store
                .get_account(id)
                .await?
                .ok_or_else(|| ServiceError::NotFound { kind: "account", id: id.to_string() })?
                .id,
            None => self.first_account_id().await?,
        };

        let now = crate::clock::now();
        let (new_key, key) = new_key_record(&account_id, name, scopes, now);
        self.store.insert_api_key(&new_key).await?;
        tracing::info!(account_id = %account_id, key_id = %new_key.id, scopes = %new_key.scopes.to_list(), "created API key");

        let record = self.store.get_api_key(&new_key.id).await?.ok_or_else(|| ServiceError::NotFound {
            kind: "API key",
            id: new_key.id.clone(),
        })?;
        Ok(CreatedKey { record, key })
    }

    async fn first_account_id(&self) -> Result<String, ServiceError> {
        let keys = self.store.list_api_keys(None).await?;
        match keys.first() {
            Some(key) => Ok(key.account_id.clone()),
            None => Err(ServiceError::NotFound {
                kind: "account",
                id: "(none yet: start `gopilot serve` once to create the default account)".into(),
            }),
        }
    }

    pub async fn list(&self) -> Result<Vec<ApiKeyRecord>, ServiceError> {
        Ok(self.store.list_api_keys(None).await?)
    }

    pub async fn revoke(&self, id: &str) -> Result<(), ServiceError> {
        if !self.store.revoke_api_key(id, crate::clock::now()).await? {
            return Err(ServiceError::NotFound { kind: "API key", id: id.to_string() });
        }
        tracing::info!(key_id = %id, "revoked API key");
        Ok(())
    }

    /// Resolves a presented key to its caller.
    pub async fn authenticate(&self, presented: &str) -> Result<Result<Caller, AuthFailure>, ServiceError> {
        if !is_well_formed_api_key(presented) {
            return Ok(Err(AuthFailure::Malformed));
        }
        let Some(record) = self.store.find_api_key_by_hash(&hash_token(presented)).await? else {
            return Ok(Err(AuthFailure::Unknown));
        };
        if record.revoked_at.is_some() {
            return Ok(Err(AuthFailure::Revoked));
        }

        self.touch(&record.id).await;
        Ok(Ok(Caller { account_id: record.account_id, key_id: record.id, scopes: record.scopes }))
    }

    async fn touch(&self, key_id: &str) {
        let now = crate::clock::now();
        {
            let mut touched = self.last_touched.lock().expect("last_touched lock poisoned");
            if let Some(previous) = touched.get(key_id) {
                if now - *previous < LAST_USED_RESOLUTION {
                    return;
                }
            }
            touched.insert(key_id.to_string(), now);
        }
        if let Err(err) = self.store.touch_api_key(key_id, now).await {
            tracing::warn!(key_id = %key_id, error = %err, "failed to record API key use");
        }
    }
}

fn new_key_record(account_id: &str, name: &str, scopes: ScopeSet, now: OffsetDateTime) -> (NewApiKey, String) {
    let key = generate_api_key();
    let record = NewApiKey {
        id: new_id("key"),
        account_id: account_id.to_string(),
        name: name.to_string(),
        key_hash: hash_token(&key),
        key_hint: secret_hint(&key),
        scopes,
        created_at: now,
    };
    (record, key)
}
