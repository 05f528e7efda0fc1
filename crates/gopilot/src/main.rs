//! `gopilot`: the GoPilot server and its command-line tools.

mod config;
mod gateway;
mod images;
mod keys;
mod master_key;
mod serve;

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{Config, LogFormat};

#[derive(Debug, Parser)]
#[command(name = "gopilot", version, about = "Run AI agents in sandboxes behind one HTTP API")]
struct Cli {
    /// TOML settings file; GOPILOT_* environment variables override it.
    #[arg(long, global = true, env = "GOPILOT_CONFIG")]
    config: Option<PathBuf>,

    /// Data directory; overrides the setting `data_dir`.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API server.
    Serve {
        /// Address to listen on; overrides the setting `listen`.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Manage API keys in the data directory's store.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Build and list the runtime images agents run from.
    #[command(subcommand)]
    Images(images::ImagesCommand),
    /// Manage accounts, for operators hosting several tenants.
    #[command(subcommand)]
    Accounts(keys::AccountsCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();

    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    init_tracing(config.log_format);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime starts");
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { listen } => {
                if let Some(listen) = listen {
                    config.listen = listen;
                }
                serve::run(config).await
            }
            Command::Keys(command) => keys::run(&config, command).await,
            Command::Accounts(command) => keys::run_accounts(&config, command).await,
            Command::Images(command) => images::run(&config, command).await,
        }
    });

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GOPILOT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
