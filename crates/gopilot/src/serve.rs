//! `gopilot serve`: the API server.

use anyhow::Context;
use gopilot_api::{ApiConfig, AppState};
use gopilot_control::{AgentService, KeyService};
use gopilot_store::Store;
use gopilot_control::lifecycle::{Images, Lifecycle, LifecycleSettings};
use gopilot_sandbox::runc::{RuncBackend, RuncConfig};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, SandboxBackend};
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

    let agents = AgentService::new(store.clone(), cipher);
    let network = SandboxNetwork::from_config(&config)?;
    let lifecycle = Arc::new(build_lifecycle(&config, &network, agents.clone()).await?);

    // The gateway listens on the sandbox bridge, which exists only once the
    // sandbox backend has set it up; without sandboxes it needs an explicit
    // address.
    let gateway = if lifecycle.has_sandboxes() || config.gateway.listen.is_some() {
        let usage = gopilot_control::UsageService::new(store.clone());
        let gateway = crate::gateway::spawn(&config.gateway, network.gateway_listen, agents.clone(), usage).await?;
        tracing::info!(gateway = %gateway.local_addr, gateway_url = %network.gateway_url, "sandboxes reach the LLM gateway");
        Some(gateway)
    } else {
        tracing::warn!("LLM gateway not started: no sandboxes and no gateway.listen address");
        None
    };
    if lifecycle.has_sandboxes() {
        let report = lifecycle.adopt().await.context("cannot adopt existing sandboxes")?;
        tracing::info!(adopted = report.adopted.len(), removed = report.removed.len(), "sandboxes adopted");
        lifecycle.spawn_reconciler();
    }

    let state = AppState::new(
        keys,
        agents,
        Arc::new(lifecycle.clone()),
        ApiConfig {
            max_body_bytes: config.max_body_bytes,
            rate_limit: config.rate_limit,
            agents_domain: config.agents_domain.clone(),
            create_wait: Duration::from_secs(config.lifecycle.create_wait_secs),
        },
    )
    .with_lifecycle(lifecycle);
    let app = gopilot_api::router(state);

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(listen = %config.listen, data_dir = %config.data_dir.display(), "API server listening");

    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("API server failed")?;
    if let Some(gateway) = gateway {
        gateway.stop().await?;
    }
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

/// Where sandboxes attach and where they reach the LLM gateway.
struct SandboxNetwork {
    subnet: gopilot_sandbox::runc::Ipv4Subnet,
    gateway_listen: std::net::SocketAddr,
    /// The gateway's base URL as sandboxes reach it.
    gateway_url: String,
}

impl SandboxNetwork {
    fn from_config(config: &Config) -> anyhow::Result<SandboxNetwork> {
        let subnet: gopilot_sandbox::runc::Ipv4Subnet =
            config.sandbox.subnet.parse().map_err(|err| anyhow::anyhow!("sandbox.subnet: {err}"))?;
        // The bridge takes the subnet's first address.
        let bridge_ip = std::net::Ipv4Addr::from(u32::from(subnet.network) + 1);
        let gateway_listen = config
            .gateway
            .listen
            .unwrap_or_else(|| std::net::SocketAddr::from((bridge_ip, crate::gateway::DEFAULT_PORT)));

        // Sandboxes reach the gateway only at the bridge address, on a port
        // that their firewall rules allow, so it must be known in advance.
        let on_bridge = gateway_listen.ip() == std::net::IpAddr::V4(bridge_ip) && gateway_listen.port() != 0;
        if config.sandbox.backend == SandboxBackend::Runc && !on_bridge {
            anyhow::bail!(
                "gateway.listen {gateway_listen} is not reachable from sandboxes: with sandboxes it must be \
                 the bridge address {bridge_ip} with a fixed port, such as {bridge_ip}:{}; leave it unset for that default",
                crate::gateway::DEFAULT_PORT
            );
        }
        let gateway_url = format!("http://{bridge_ip}:{}", gateway_listen.port());
        Ok(SandboxNetwork { subnet, gateway_listen, gateway_url })
    }
}

/// Builds the lifecycle service with the configured sandbox backend.
async fn build_lifecycle(config: &Config, network: &SandboxNetwork, agents: AgentService) -> anyhow::Result<Lifecycle> {
    let lifecycle = &config.lifecycle;
    let settings = LifecycleSettings {
        data_dir: std::fs::canonicalize(&config.data_dir).context("cannot resolve the data directory")?,
        gateway_url: network.gateway_url.clone(),
        control_origin: lifecycle.control_origin.clone(),
        ready_timeout: Duration::from_secs(lifecycle.ready_timeout_secs),
        stop_grace: Duration::from_secs(lifecycle.stop_grace_secs),
        idle_pause_after: (lifecycle.idle_pause_secs > 0).then(|| Duration::from_secs(lifecycle.idle_pause_secs)),
        reconcile_interval: Duration::from_millis(lifecycle.reconcile_interval_ms),
        known_providers: known_providers(config),
    };

    if config.sandbox.backend == SandboxBackend::None {
        tracing::warn!("sandbox backend is none: agents are kept as records and never run");
        return Ok(Lifecycle::records_only(agents, settings));
    }
    if !nix_is_root() {
        anyhow::bail!(
            "gopilot serve needs root to run runc sandboxes; run it as root, or set sandbox.backend = \"none\" to keep agents as records only"
        );
    }

    let mut runc = RuncConfig::new(settings.data_dir.join("sandboxes"));
    runc.subnet = network.subnet;
    runc.bridge = config.sandbox.bridge.clone();
    runc.nft_table = config.sandbox.nft_table.clone();
    runc.runtime_binary = config.sandbox.oci_runtime.clone().into();
    if config.sandbox.oci_runtime.ends_with("runsc") {
        runc.runtime = gopilot_sandbox::runc::RuntimeKind::Runsc;
    }
    runc.allowed_host_ports = vec![network.gateway_listen.port()];
    let backend = RuncBackend::new(runc).await.context("cannot set up the runc sandbox backend")?;

    let images = Images::open(&settings.data_dir, None).context("cannot open the image store")?;
    Ok(Lifecycle::new(agents, Arc::new(backend), images, settings))
}

/// Returns the providers the gateway forwards to: the built-in ones and
/// every configured upstream.
fn known_providers(config: &Config) -> Vec<String> {
    let mut providers: Vec<String> = gopilot_llm_gateway::BUILTIN_PROVIDERS.iter().map(|p| p.to_string()).collect();
    for name in config.gateway.upstreams.keys() {
        if !providers.contains(name) {
            providers.push(name.clone());
        }
    }
    providers
}

fn nix_is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
