//! Usage records and status history, run once against SQLite and once
//! against PostgreSQL (from `GOPILOT_TEST_POSTGRES_URL`, like `store.rs`).

mod common;

use common::{postgres, sqlite, TestDb};
use gopilot_core::model::ModelRef;
use gopilot_core::secret::hash_token;
use gopilot_core::{Agent, AgentStatus, DesiredState, RuntimeKind, Size};
use gopilot_store::{Account, AgentRow, NewUsageRecord, Store, UsageBucket, UsageFilter, UsageGrouping};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};


const DAY1: OffsetDateTime = datetime!(2026-03-01 10:00 UTC);

fn record(agent_id: &str, model: &str, at: OffsetDateTime, tokens: (u64, u64, u64), cost: Option<f64>) -> NewUsageRecord {
    NewUsageRecord {
        account_id: "acc1".into(),
        agent_id: agent_id.into(),
        provider: "openai".into(),
        model: model.into(),
        request_id: gopilot_core::id::new_id("req"),
        input_tokens: tokens.0,
        output_tokens: tokens.1,
        cached_tokens: tokens.2,
        cost_usd: cost,
        started_at: at,
        latency_ms: 120,
        status_code: 200,
        streamed: false,
    }
}

fn bucket(key: &str, requests: u64, tokens: (u64, u64, u64), cost: Option<f64>, unpriced: u64) -> UsageBucket {
    UsageBucket {
        key: key.into(),
        requests,
        input_tokens: tokens.0,
        output_tokens: tokens.1,
        cached_tokens: tokens.2,
        known_cost_usd: cost,
        unpriced_requests: unpriced,
    }
}

/// Compares buckets with costs rounded to 1e-9 USD, because the databases
/// sum floating-point values in their own order.
fn assert_buckets(actual: Vec<UsageBucket>, expected: Vec<UsageBucket>) {
    let round = |buckets: Vec<UsageBucket>| -> Vec<UsageBucket> {
        buckets
            .into_iter()
            .map(|b| UsageBucket { known_cost_usd: b.known_cost_usd.map(|c| (c * 1e9).round() / 1e9), ..b })
            .collect()
    };
    assert_eq!(round(actual), round(expected));
}

async fn insert_usage_rows(store: &Store) {
    // Unknown costs come first: on PostgreSQL a statement first run with a
    // NULL cost must still accept a known cost afterwards.
    let rows = [
        record("ag2", "unpriced", DAY1 + Duration::days(1), (7, 3, 0), None),
        // A failed request: no tokens and no price, so it costs nothing.
        record("ag2", "unpriced", DAY1 + Duration::days(1), (0, 0, 0), None),
        record("ag1", "gpt-4o", DAY1, (100, 10, 40), Some(0.25)),
        record("ag1", "gpt-4o", DAY1 + Duration::hours(13), (50, 5, 0), Some(0.125)),
        record("ag2", "gpt-4o", DAY1 + Duration::hours(1), (10, 1, 0), Some(0.5)),
        // Outside the queried range.
        record("ag1", "gpt-4o", DAY1 + Duration::days(5), (1000, 1000, 0), Some(9.0)),
        record("ag1", "gpt-4o", DAY1 - Duration::milliseconds(1), (1000, 1000, 0), Some(9.0)),
    ];
    for row in &rows {
        store.insert_usage(row).await.unwrap();
    }
    let mut other_account = record("ag9", "gpt-4o", DAY1, (5, 5, 5), Some(1.0));
    other_account.account_id = "acc2".into();
    store.insert_usage(&other_account).await.unwrap();
}

async fn check_usage_aggregates(db: TestDb) {
    let store = &db.store;
    insert_usage_rows(store).await;
    let account = UsageFilter {
        account_id: "acc1",
        agent_id: None,
        start: DAY1,
        end: DAY1 + Duration::days(2),
    };

    let by_day = store.aggregate_usage(&account, UsageGrouping::Day).await.unwrap();
    assert_buckets(
        by_day,
        vec![
            // 10:00 and 23:00 UTC fall on the same day.
            bucket("2026-03-01", 3, (160, 16, 40), Some(0.875), 0),
            bucket("2026-03-02", 2, (7, 3, 0), None, 1),
        ],
    );

    let by_agent = store.aggregate_usage(&account, UsageGrouping::Agent).await.unwrap();
    assert_buckets(
        by_agent,
        vec![bucket("ag1", 2, (150, 15, 40), Some(0.375), 0), bucket("ag2", 3, (17, 4, 0), Some(0.5), 1)],
    );

    let by_model = store.aggregate_usage(&account, UsageGrouping::Model).await.unwrap();
    assert_buckets(
        by_model,
        vec![bucket("openai/gpt-4o", 3, (160, 16, 40), Some(0.875), 0), bucket("openai/unpriced", 2, (7, 3, 0), None, 1)],
    );

    let one_agent = UsageFilter { agent_id: Some("ag1"), ..account };
    let agent_by_model = store.aggregate_usage(&one_agent, UsageGrouping::Model).await.unwrap();
    assert_buckets(agent_by_model, vec![bucket("openai/gpt-4o", 2, (150, 15, 40), Some(0.375), 0)]);

    let empty = UsageFilter { start: DAY1 + Duration::days(10), end: DAY1 + Duration::days(11), ..account };
    assert!(store.aggregate_usage(&empty, UsageGrouping::Day).await.unwrap().is_empty());
}

fn agent(id: &str, account_id: &str, size: Size) -> AgentRow {
    AgentRow {
        agent: Agent {
            id: id.into(),
            account_id: account_id.into(),
            name: format!("agent {id}"),
            description: None,
            model: ModelRef { provider: "openai".into(), name: "gpt-4o".into() },
            runtime_kind: RuntimeKind::Openclaw,
            size,
            llm_keys: vec![],
            channels: vec![],
            extra_agents: vec![],
            desired_state: DesiredState::Running,
            status: AgentStatus::Provisioning,
            status_reason: None,
            created_at: DAY1,
            updated_at: DAY1,
            status_changed_at: DAY1,
        },
        sealed_secrets: vec![1],
        gateway_token_hash: hash_token(&format!("gateway-{id}")),
    }
}

async fn check_status_history(db: TestDb) {
    let store = &db.store;
    store.insert_account(&Account { id: "acc1".into(), name: "a".into(), created_at: DAY1 }).await.unwrap();
    store.insert_account(&Account { id: "acc2".into(), name: "b".into(), created_at: DAY1 }).await.unwrap();
    store.insert_agent(&agent("ag1", "acc1", Size::Large)).await.unwrap();
    store.insert_agent(&agent("ag2", "acc1", Size::Small)).await.unwrap();
    store.insert_agent(&agent("ag3", "acc2", Size::Small)).await.unwrap();

    let t = |seconds: i64| DAY1 + Duration::seconds(seconds);
    use AgentStatus::*;
    store.insert_event("ag1", "created", None, Some(Provisioning), "agent created", t(0)).await.unwrap();
    store.insert_event("ag1", "transition", Some(Provisioning), Some(Running), "ready", t(10)).await.unwrap();
    store.insert_event("ag1", "action", None, None, "stop requested", t(50)).await.unwrap();
    store.insert_event("ag1", "transition", Some(Running), Some(Stopped), "stopped", t(60)).await.unwrap();
    store.insert_event("ag1", "transition", Some(Stopped), Some(Running), "started", t(500)).await.unwrap();
    store.insert_event("ag2", "created", None, Some(Provisioning), "agent created", t(5)).await.unwrap();
    store.insert_event("ag3", "created", None, Some(Provisioning), "agent created", t(0)).await.unwrap();

    let histories = store.list_status_history("acc1", None, t(100)).await.unwrap();
    assert_eq!(histories.len(), 2, "{histories:?}");
    assert_eq!(histories[0].agent_id, "ag1");
    assert_eq!(histories[0].size, Size::Large);
    assert_eq!(histories[0].changes, vec![(t(0), Provisioning), (t(10), Running), (t(60), Stopped)]);
    assert_eq!(histories[1].agent_id, "ag2");
    assert_eq!(histories[1].changes, vec![(t(5), Provisioning)]);

    let one = store.list_status_history("acc1", Some("ag2"), t(100)).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].agent_id, "ag2");
    assert!(store.list_status_history("acc2", Some("ag1"), t(100)).await.unwrap().is_empty());

    // Deleting an agent drops its events but keeps its usage rows.
    store.insert_usage(&record("ag2", "gpt-4o", t(20), (1, 1, 0), Some(0.5))).await.unwrap();
    assert!(store.delete_agent("acc1", "ag2").await.unwrap());
    assert_eq!(store.list_status_history("acc1", None, t(100)).await.unwrap().len(), 1);
    let filter = UsageFilter { account_id: "acc1", agent_id: Some("ag2"), start: DAY1, end: t(100) };
    let kept = store.aggregate_usage(&filter, UsageGrouping::Agent).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].requests, 1);
}

#[tokio::test]
async fn sqlite_usage_aggregates() {
    check_usage_aggregates(sqlite().await).await;
}

#[tokio::test]
async fn postgres_usage_aggregates() {
    check_usage_aggregates(postgres().await).await;
}

#[tokio::test]
async fn sqlite_status_history() {
    check_status_history(sqlite().await).await;
}

#[tokio::test]
async fn postgres_status_history() {
    check_status_history(postgres().await).await;
}
