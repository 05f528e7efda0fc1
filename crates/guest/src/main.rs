//! `gopilot-guest`: the supervisor that runs as PID 1 inside each agent
//! sandbox. It starts the agent runtime, restarts it when it exits, reaps
//! every orphaned process, and serves an authenticated HTTP API for status,
//! readiness, logs, workspace files and runtime control.
//!
//! Nothing here depends on the sandbox kind: it works as the init of a
//! container or of a microVM.

mod api;
mod config;
mod files;
mod logs;
mod process;
mod readiness;
mod reaper;
mod supervisor;
mod timestamp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use gopilot_guest_api::DEFAULT_CONFIG_PATH;
use tokio::signal::unix::{signal, SignalKind};

use crate::files::Workspace;
use crate::logs::LogBook;
use crate::readiness::Readiness;
use crate::reaper::Reaper;

/// Supervisor of an agent runtime inside its sandbox.
#[derive(Debug, Parser)]
#[command(name = "gopilot-guest", version)]
struct Cli {
    /// Path of the guest config file (JSON, see `GuestConfig`).
    #[arg(long, default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
}

/// A failure that stops the guest at start.
#[derive(Debug, thiserror::Error)]
enum StartupError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    LogFile(#[from] logs::LogFileError),
    #[error(transparent)]
    Workspace(#[from] files::WorkspaceRootError),
    #[error("cannot listen on {address} (config field `api_listen`): {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot install the {what} handler: {source}")]
    Signal {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("guest API server failed: {0}")]
    Serve(std::io::Error),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("gopilot-guest: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };

    match runtime.block_on(run(cli)) {
        // `exit` skips waiting for open follow streams and blocking file tasks.
        Ok(()) => std::process::exit(0),
        Err(error) => {
            tracing::error!(%error, "gopilot-guest stopped");
            eprintln!("gopilot-guest: {error}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<(), StartupError> {
    let config = Arc::new(config::load(&cli.config)?);
    tracing::info!(config = %cli.config.display(), command = ?config.command, "gopilot-guest starting");

    become_subreaper();

    // Signal handlers go in before the runtime starts, so an early SIGTERM is not lost.
    let mut sigterm = signal(SignalKind::terminate()).map_err(|source| StartupError::Signal {
        what: "SIGTERM",
        source,
    })?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|source| StartupError::Signal {
        what: "SIGINT",
        source,
    })?;

    let logs = Arc::new(LogBook::open(
        &config.log_path,
        config.log_max_bytes,
        config.log_buffer_lines,
    )?);
    let workspace = Arc::new(Workspace::open(
        &config.workspace_root,
        &config.hidden_files,
    )?);

    // `validate` already checked that this parses.
    let address: SocketAddr = config.api_listen.parse().expect("api_listen was validated");
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| StartupError::Listen { address, source })?;

    let reaper = Reaper::start().map_err(|source| StartupError::Signal {
        what: "SIGCHLD",
        source,
    })?;
    let supervisor = supervisor::start(config.clone(), reaper, logs.clone());

    let readiness = Arc::new(Readiness::new(
        config.readiness.clone(),
        supervisor.shared_status(),
    ));
    let watcher = readiness.clone();
    tokio::spawn(async move { watcher.watch().await });

    let state = api::AppState {
        supervisor: supervisor.clone(),
        readiness,
        logs,
        workspace,
        max_file_bytes: config.max_file_bytes,
    };
    let app = api::router(state, &config.api_token);
    tracing::info!(%address, "guest API listening");

    let outcome = tokio::select! {
        served = axum::serve(listener, app) => Err(StartupError::Serve(served.err().unwrap_or_else(|| std::io::Error::other("server stopped")))),
        _ = sigterm.recv() => Ok("SIGTERM"),
        _ = sigint.recv() => Ok("SIGINT"),
    };

    match &outcome {
        Ok(signal) => tracing::info!(signal, "shutdown requested; stopping the runtime"),
        Err(error) => tracing::error!(%error, "guest API stopped; stopping the runtime"),
    }
    supervisor.shutdown().await;
    tracing::info!("gopilot-guest exiting");
    outcome.map(|_| ())
}

/// Makes orphaned descendants re-parent to this process when it is not PID 1
/// (PID 1 gets them anyway), so the reaper collects them in both cases.
fn become_subreaper() {
    if std::process::id() == 1 {
        return;
    }
    if let Err(error) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::warn!(%error, "cannot become child subreaper; orphans of the runtime will not be reaped by the guest");
    }
}
