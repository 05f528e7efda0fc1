use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use crate::error::StoreError;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    Sqlite,
    Postgres,
}

/// Handle to the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    database: Database,
}

impl Store {
    /// Returns the SQLite URL of the default store file in `data_dir`.
    pub fn sqlite_url_for(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join("gopilot.db").display())
    }

    /// Connects to `url` and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();

        let database = if url.starts_with("sqlite:") {
            Database::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Database::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };

        let pool = match database {
            Database::Sqlite => connect_sqlite(url).await?,
            Database::Postgres => AnyPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(StoreError::Connect)?,
        };

        match database {
            Database::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Database::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        tracing::info!(database = ?database, "store ready");
        Ok(Store { pool, database })
    }

    pub fn database(&self) -> Database {
        self.database
    }

    /// Checks that the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn connect_sqlite(url: &str) -> Result<AnyPool, StoreError> {
    let url = if url.contains('?') { url.to_string() } else { format!("{url}?mode=rwc") };
    let options = AnyConnectOptions::from_str(&url).map_err(StoreError::Connect)?;

    // WAL lets readers run beside the single writer; busy_timeout makes a
    // writer wait for the lock instead of failing at once.
    AnyPoolOptions::new()
        .max_connections(8)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA busy_timeout = 5000").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                conn.execute("PRAGMA synchronous = NORMAL").await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(StoreError::Connect)
}

/// Removes a password from a database URL so it can appear in messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://***{}", &url[..scheme_end], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_credentials() {
        assert_eq!(redact_url("mysql://user:pw@host/db"), "mysql://***@host/db");
        assert_eq!(redact_url("mysql://host/db"), "mysql://host/db");
    }
}
