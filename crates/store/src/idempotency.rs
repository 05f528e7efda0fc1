use sqlx::Row;
use time::OffsetDateTime;

use crate::connect::Store;
use crate::error::StoreError;
use crate::time_ms::to_ms;

impl Store {
    /// Returns the agent created under an idempotency key, if any.
    pub async fn find_idempotency_key(&self, account_id: &str, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT agent_id FROM idempotency_keys WHERE account_id = $1 AND key = $2")
            .bind(account_id)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.get("agent_id")))
    }

    /// Records the agent created under an idempotency key. Returns false
    /// when the key is already taken, by a request that ran at the same time.
    pub async fn insert_idempotency_key(
        &self,
        account_id: &str,
        key: &str,
        agent_id: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO idempotency_keys (account_id, key, agent_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(account_id)
        .bind(key)
        .bind(agent_id)
        .bind(to_ms(at))
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) => match StoreError::from_insert(err, "idempotency key") {
                StoreError::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }
}
