//! `gopilot serve`: the API server.

use anyhow::Context;
use gopilot_api::{ApiConfig, AppState};
use gopilot_control::{AgentService, KeyService};
use gopilot_store::Store;
use std::sync::Arc;

use crate::config::Config;
use crate::master_key;

/// Creates the data directory if needed and opens the store in it.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    Store::connect(&config.database_url()).await.context("cannot open the store")
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let cipher = master_key::load(&config.master_key, &config.data_dir)?;
    let keys = Arc::new(KeyService::new(store.clone()));

    if let Some(created) = keys.bootstrap().await? {
        print_first_key(&config, &created.key);
    }

    let state = AppState::new(
        keys,
        AgentService::new(store.clone(), cipher),
        ApiConfig {
            max_body_bytes: config.max_body_bytes,
            rate_limit: config.rate_limit,
            agents_domain: config.agents_domain.clone(),
        },
    );
    let app = gopilot_api::router(state);

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(listen = %config.listen, data_dir = %config.data_dir.display(), "API server listening");

    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("API server failed")?;
    store.close().await;
    tracing::info!("API server stopped");
    Ok(())
}

/// Prints the first API key to standard output, never to the log.
fn print_first_key(config: &Config, key: &str) {
    println!("Created the default account. Its API key, shown only this once:\n");
    println!("    {key}\n");
    println!("Create your first agent:\n");
    println!(
        "    curl -X POST http://{}/v1/agents -H \"X-API-Key: {key}\" -H \"Content-Type: application/json\" \\\n      -d '{{\"name\": \"Support Bot\", \"model\": \"anthropic/claude-sonnet-4-6\", \"llm_keys\": [{{\"provider\": \"anthropic\", \"api_key\": \"sk-ant-...\"}}]}}'\n",
        config.listen
    );
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutdown requested");
}
