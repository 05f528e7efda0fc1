use sqlx::Row;
use time::OffsetDateTime;

use crate::connect::Store;
use crate::error::StoreError;
use crate::time_ms::{from_ms, to_ms};

/// An account: the owner of agents and API keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub created_at: OffsetDateTime,
}

impl Store {
    pub async fn insert_account(&self, account: &Account) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&account.id)
            .bind(&account.name)
            .bind(to_ms(account.created_at))
            .execute(&self.pool)
            .await
            .map_err(|err| StoreError::from_insert(err, "account id"))?;
        Ok(())
    }

    pub async fn get_account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query("SELECT id, name, created_at FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| Account {
            id: row.get("id"),
            name: row.get("name"),
            created_at: from_ms(row.get("created_at")),
        }))
    }

    pub async fn count_accounts(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM accounts").fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>("n")?)
    }
}
