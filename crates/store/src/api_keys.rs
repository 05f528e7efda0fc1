use gopilot_core::ScopeSet;
use sqlx::any::AnyRow;
use sqlx::Row;
use time::OffsetDateTime;

use crate::accounts::Account;
use crate::connect::Store;
use crate::error::StoreError;
use crate::time_ms::{from_ms, to_ms};

/// A new API key to store: only the hash of the key is kept.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub key_hash: String,
    pub key_hint: String,
    pub scopes: ScopeSet,
    pub created_at: OffsetDateTime,
}

/// A stored API key, without the key itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub account_id: String,
    pub name: String,
    /// The key's last characters, to tell keys apart in listings.
    pub key_hint: String,
    pub scopes: ScopeSet,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

const KEY_COLUMNS: &str =
    "id, account_id, name, key_hint, scopes, created_at, last_used_at, revoked_at";

fn key_from_row(row: &AnyRow) -> Result<ApiKeyRecord, StoreError> {
    let scopes: String = row.try_get("scopes")?;
    let scopes = ScopeSet::parse_list(&scopes)
        .map_err(|_| StoreError::Corrupt { column: "api_keys.scopes", value: scopes.clone() })?;
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        key_hint: row.try_get("key_hint")?,
        scopes,
        created_at: from_ms(row.try_get("created_at")?),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(from_ms),
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(from_ms),
    })
}

impl Store {
    pub async fn insert_api_key(&self, key: &NewApiKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, account_id, name, key_hash, key_hint, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key.id)
        .bind(&key.account_id)
        .bind(&key.name)
        .bind(&key.key_hash)
        .bind(&key.key_hint)
        .bind(key.scopes.to_list())
        .bind(to_ms(key.created_at))
        .execute(&self.pool)
        .await
        .map_err(|err| StoreError::from_insert(err, "API key"))?;
        Ok(())
    }

    /// Creates the first account and its first key in one transaction, unless
    /// an account already exists. Returns false when nothing was created, so
    /// two servers starting at once cannot both print a key.
    pub async fn bootstrap_account(&self, account: &Account, key: &NewApiKey) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;

        let existing: i64 = sqlx::query("SELECT COUNT(*) AS n FROM accounts")
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if existing > 0 {
            tx.rollback().await?;
            return Ok(false);
        }

        sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&account.id)
            .bind(&account.name)
            .bind(to_ms(account.created_at))
            .execute(&mut *tx)
            .await
            .map_err(|err| StoreError::from_insert(err, "account id"))?;
        sqlx::query(
            "INSERT INTO api_keys (id, account_id, name, key_hash, key_hint, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key.id)
        .bind(&key.account_id)
        .bind(&key.name)
        .bind(&key.key_hash)
        .bind(&key.key_hint)
        .bind(key.scopes.to_list())
        .bind(to_ms(key.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|err| StoreError::from_insert(err, "API key"))?;

        tx.commit().await?;
        Ok(true)
    }

    /// Finds a key by the hash of the full key, revoked or not.
    pub async fn find_api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1");
        let row = sqlx::query(&sql).bind(key_hash).fetch_optional(&self.pool).await?;
        row.as_ref().map(key_from_row).transpose()
    }

    pub async fn get_api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// Lists keys, oldest first; all accounts when `account_id` is `None`.
    pub async fn list_api_keys(&self, account_id: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = match account_id {
            Some(account_id) => {
                let sql = format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE account_id = $1 ORDER BY created_at, id"
                );
                sqlx::query(&sql).bind(account_id).fetch_all(&self.pool).await?
            }
            None => {
                let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id");
                sqlx::query(&sql).fetch_all(&self.pool).await?
            }
        };
        rows.iter().map(key_from_row).collect()
    }

    /// Records a use of the key. Callers throttle this, since it writes.
    pub async fn touch_api_key(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(to_ms(at))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Revokes a key. Returns false when no key has this id; revoking a
    /// revoked key keeps its first revocation time and returns true.
    pub async fn revoke_api_key(&self, id: &str, at: OffsetDateTime) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
        )
        .bind(to_ms(at))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }
}
