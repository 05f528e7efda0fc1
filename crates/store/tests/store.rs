//! Store tests, run once against SQLite and once against PostgreSQL.
//!
//! PostgreSQL comes from `GOPILOT_TEST_POSTGRES_URL`, which `scripts/test`
//! sets after starting a throwaway server; each test creates its own database.

mod common;

use common::{postgres, sqlite, TestDb};
use gopilot_core::agent::LlmKeyHint;
use gopilot_core::model::ModelRef;
use gopilot_core::secret::hash_token;
use gopilot_core::{Agent, AgentStatus, DesiredState, RuntimeKind, ScopeSet, Size};
use gopilot_store::{Account, AgentRow, NewApiKey, Store};
use time::{Duration, OffsetDateTime};


fn now() -> OffsetDateTime {
    // Millisecond precision, as stored.
    let ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).unwrap()
}

fn account(id: &str) -> Account {
    Account { id: id.into(), name: format!("account {id}"), created_at: now() }
}

fn key(id: &str, account_id: &str, secret: &str) -> NewApiKey {
    NewApiKey {
        id: id.into(),
        account_id: account_id.into(),
        name: format!("key {id}"),
        key_hash: hash_token(secret),
        key_hint: "...abcd".into(),
        scopes: ScopeSet::parse_list("agents:read,usage:read").unwrap(),
        created_at: now(),
    }
}

fn agent(id: &str, account_id: &str, created_at: OffsetDateTime) -> AgentRow {
    AgentRow {
        agent: Agent {
            id: id.into(),
            account_id: account_id.into(),
            name: format!("agent {id}"),
            description: Some("a test agent".into()),
            model: ModelRef { provider: "anthropic".into(), name: "claude-sonnet-4-6".into() },
            runtime_kind: RuntimeKind::Openclaw,
            size: Size::Medium,
            llm_keys: vec![LlmKeyHint { provider: "anthropic".into(), hint: "...wxyz".into() }],
            channels: vec![],
            extra_agents: vec![],
            desired_state: DesiredState::Running,
            status: AgentStatus::Provisioning,
            status_reason: None,
            created_at,
            updated_at: created_at,
            status_changed_at: created_at,
        },
        sealed_secrets: vec![1, 2, 3, 0, 255],
        gateway_token_hash: hash_token(&format!("gateway-{id}")),
    }
}

async fn check_accounts_and_keys(db: TestDb) {
    let store = &db.store;
    store.ping().await.unwrap();
    assert_eq!(store.count_accounts().await.unwrap(), 0);

    let created = store.bootstrap_account(&account("acc1"), &key("key1", "acc1", "secret-1")).await.unwrap();
    assert!(created);
    let again = store.bootstrap_account(&account("acc2"), &key("key2", "acc2", "secret-2")).await.unwrap();
    assert!(!again, "a second bootstrap must not create an account");
    assert_eq!(store.count_accounts().await.unwrap(), 1);

    let found = store.find_api_key_by_hash(&hash_token("secret-1")).await.unwrap().unwrap();
    assert_eq!(found.id, "key1");
    assert_eq!(found.scopes.to_list(), "agents:read,usage:read");
    assert!(found.last_used_at.is_none());
    assert!(store.find_api_key_by_hash(&hash_token("other")).await.unwrap().is_none());

    let used_at = now();
    store.touch_api_key("key1", used_at).await.unwrap();
    assert_eq!(store.get_api_key("key1").await.unwrap().unwrap().last_used_at, Some(used_at));

    let duplicate = store.insert_api_key(&key("key3", "acc1", "secret-1")).await.unwrap_err();
    assert!(matches!(duplicate, gopilot_store::StoreError::Conflict(_)), "{duplicate:?}");

    assert!(store.revoke_api_key("key1", used_at).await.unwrap());
    let later = used_at + Duration::seconds(5);
    assert!(store.revoke_api_key("key1", later).await.unwrap());
    assert_eq!(store.get_api_key("key1").await.unwrap().unwrap().revoked_at, Some(used_at));
    assert!(!store.revoke_api_key("missing", later).await.unwrap());

    store.insert_account(&account("acc3")).await.unwrap();
    store.insert_api_key(&key("key4", "acc3", "secret-4")).await.unwrap();
    assert_eq!(store.list_api_keys(Some("acc3")).await.unwrap().len(), 1);
    assert_eq!(store.list_api_keys(None).await.unwrap().len(), 2);
}

async fn check_agents(db: TestDb) {
    let store = &db.store;
    store.insert_account(&account("acc1")).await.unwrap();
    store.insert_account(&account("acc2")).await.unwrap();

    let base = now();
    for i in 0..5 {
        store.insert_agent(&agent(&format!("ag{i}"), "acc1", base + Duration::seconds(i))).await.unwrap();
    }
    store.insert_agent(&agent("other", "acc2", base)).await.unwrap();

    let row = store.get_agent("acc1", "ag1").await.unwrap().unwrap();
    assert_eq!(row, agent("ag1", "acc1", base + Duration::seconds(1)));
    assert!(store.get_agent("acc2", "ag1").await.unwrap().is_none(), "other account must not see it");
    let by_token = store.find_agent_by_gateway_token_hash(&hash_token("gateway-ag3")).await.unwrap().unwrap();
    assert_eq!(by_token.agent.id, "ag3");

    let first = store.list_agents("acc1", 2, None).await.unwrap();
    let ids: Vec<_> = first.agents.iter().map(|r| r.agent.id.as_str()).collect();
    assert_eq!(ids, ["ag4", "ag3"]);
    assert!(first.has_more);
    let second = store.list_agents("acc1", 2, Some("ag3")).await.unwrap();
    let ids: Vec<_> = second.agents.iter().map(|r| r.agent.id.as_str()).collect();
    assert_eq!(ids, ["ag2", "ag1"]);
    let last = store.list_agents("acc1", 2, Some("ag1")).await.unwrap();
    assert_eq!(last.agents.len(), 1);
    assert!(!last.has_more);
    assert!(store.list_agents("acc1", 2, Some("other")).await.unwrap().agents.is_empty());

    let mut updated = row.clone();
    updated.agent.name = "renamed".into();
    updated.agent.size = Size::Large;
    updated.sealed_secrets = vec![9, 9];
    assert!(store.update_agent_config(&updated).await.unwrap());
    let reread = store.get_agent("acc1", "ag1").await.unwrap().unwrap();
    assert_eq!(reread.agent.name, "renamed");
    assert_eq!(reread.agent.size, Size::Large);
    assert_eq!(reread.sealed_secrets, vec![9, 9]);

    let t1 = base + Duration::seconds(30);
    store.set_agent_status("ag1", AgentStatus::Running, None, t1).await.unwrap();
    store.set_agent_status("ag1", AgentStatus::Running, None, t1 + Duration::seconds(9)).await.unwrap();
    let reread = store.get_agent("acc1", "ag1").await.unwrap().unwrap();
    assert_eq!(reread.agent.status, AgentStatus::Running);
    assert_eq!(reread.agent.status_changed_at, t1, "same status must keep the transition time");
    store.set_agent_status("ag1", AgentStatus::Error, Some("runtime exited"), t1).await.unwrap();
    store.set_desired_state("ag1", DesiredState::Stopped, t1).await.unwrap();
    let reread = store.get_agent("acc1", "ag1").await.unwrap().unwrap();
    assert_eq!(reread.agent.status_reason.as_deref(), Some("runtime exited"));
    assert_eq!(reread.agent.desired_state, DesiredState::Stopped);

    store
        .insert_event("ag1", "transition", Some(AgentStatus::Provisioning), Some(AgentStatus::Running), "ready", t1)
        .await
        .unwrap();
    store.insert_event("ag1", "action", None, None, "stop requested", t1).await.unwrap();
    let events = store.list_events("ag1", None, 10).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].to_status, Some(AgentStatus::Running));
    assert_eq!(store.list_events("ag1", Some(events[0].id), 10).await.unwrap().len(), 1);

    assert!(!store.delete_agent("acc2", "ag1").await.unwrap(), "other account must not delete it");
    assert!(store.delete_agent("acc1", "ag1").await.unwrap());
    assert!(!store.delete_agent("acc1", "ag1").await.unwrap());
    assert!(store.list_events("ag1", None, 10).await.unwrap().is_empty());
    assert_eq!(store.list_all_agents().await.unwrap().len(), 5);
}

#[tokio::test]
async fn sqlite_accounts_and_keys() {
    check_accounts_and_keys(sqlite().await).await;
}

#[tokio::test]
async fn postgres_accounts_and_keys() {
    check_accounts_and_keys(postgres().await).await;
}

#[tokio::test]
async fn sqlite_agents() {
    check_agents(sqlite().await).await;
}

#[tokio::test]
async fn postgres_agents() {
    check_agents(postgres().await).await;
}

#[tokio::test]
async fn sqlite_file_uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&Store::sqlite_url_for(dir.path())).await.unwrap();
    store.insert_account(&account("acc1")).await.unwrap();
    assert!(dir.path().join("gopilot.db").exists());
    assert!(dir.path().join("gopilot.db-wal").exists(), "journal_mode=WAL must create a -wal file");
}

#[tokio::test]
async fn sqlite_migrations_reapply_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let url = Store::sqlite_url_for(dir.path());
    let store = Store::connect(&url).await.unwrap();
    store.insert_account(&account("acc1")).await.unwrap();
    store.close().await;

    let reopened = Store::connect(&url).await.unwrap();
    assert_eq!(reopened.count_accounts().await.unwrap(), 1);
}

#[tokio::test]
async fn unsupported_url_rejected() {
    let err = Store::connect("mysql://user:pw@localhost/db").await.unwrap_err();
    assert!(err.to_string().contains("mysql://***@localhost/db"), "{err}");
}

async fn check_idempotency_keys(db: TestDb) {
    let store = &db.store;
    assert_eq!(store.find_idempotency_key("acc1", "k1").await.unwrap(), None);
    assert!(store.insert_idempotency_key("acc1", "k1", "ag1", now()).await.unwrap());
    assert!(!store.insert_idempotency_key("acc1", "k1", "ag2", now()).await.unwrap(), "a taken key must not be replaced");
    assert_eq!(store.find_idempotency_key("acc1", "k1").await.unwrap().as_deref(), Some("ag1"));
    assert_eq!(store.find_idempotency_key("acc2", "k1").await.unwrap(), None, "keys are per account");
}

#[tokio::test]
async fn sqlite_idempotency_keys() {
    check_idempotency_keys(sqlite().await).await;
}

#[tokio::test]
async fn postgres_idempotency_keys() {
    check_idempotency_keys(postgres().await).await;
}
