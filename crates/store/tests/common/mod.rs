//! Databases for the store tests: a SQLite file in a temporary directory,
//! or a new database on the PostgreSQL server that `scripts/test` starts
//! (`GOPILOT_TEST_POSTGRES_URL`).

use gopilot_store::Store;
use sqlx::Connection;

pub struct TestDb {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&Store::sqlite_url_for(dir.path())).await.unwrap();
    TestDb { store, _dir: Some(dir) }
}

pub async fn postgres() -> TestDb {
    let admin_url = std::env::var("GOPILOT_TEST_POSTGRES_URL").expect(
        "GOPILOT_TEST_POSTGRES_URL is not set; run the suite with scripts/test, which starts PostgreSQL",
    );
    sqlx::any::install_default_drivers();
    let name = gopilot_core::id::new_id("t");
    let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();

    let (base, _) = admin_url.rsplit_once('/').unwrap();
    let store = Store::connect(&format!("{base}/{name}")).await.unwrap();
    TestDb { store, _dir: None }
}
