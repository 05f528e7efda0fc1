//! `gopilot keys`: create, list and revoke API keys.

use anyhow::Context;
use clap::Subcommand;
use gopilot_control::KeyService;
use gopilot_core::ScopeSet;
use time::format_description::well_known::Rfc3339;

use crate::config::Config;
use crate::serve::open_store;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once.
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated: agents:read, agents:write, agents:delete, usage:read.
        #[arg(long, default_value = "agents:read,agents:write,agents:delete,usage:read")]
        scopes: String,
        /// Account to create the key for; default: the first account.
        #[arg(long)]
        account: Option<String>,
    },
    /// List keys without their secret part.
    List,
    /// Revoke a key by id; requests with it get 401 from then on.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Create an account and print its id; give it keys with `keys create --account`.
    Create {
        #[arg(long)]
        name: String,
    },
}

pub async fn run_accounts(config: &Config, command: AccountsCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let keys = KeyService::new(store);
    match command {
        AccountsCommand::Create { name } => {
            let account = keys.create_account(&name).await?;
            println!("{}", account.id);
        }
    }
    Ok(())
}

pub async fn run(config: &Config, command: KeysCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let keys = KeyService::new(store);

    match command {
        KeysCommand::Create { name, scopes, account } => {
            let scopes = ScopeSet::parse_list(&scopes).context("invalid --scopes")?;
            let created = keys.create(account.as_deref(), &name, scopes).await?;
            println!("Created API key {} ({}) with scopes {}.", created.record.id, created.record.name, created.record.scopes.to_list());
            println!("Copy it now; it is not shown again:\n\n    {}\n", created.key);
        }
        KeysCommand::List => {
            println!("{:<20} {:<20} {:<10} {:<48} {:<22} {:<22} {}", "ID", "NAME", "KEY", "SCOPES", "CREATED", "LAST USED", "REVOKED");
            for key in keys.list().await? {
                let at = |t: Option<time::OffsetDateTime>| {
                    t.and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_else(|| "-".into())
                };
                println!(
                    "{:<20} {:<20} {:<10} {:<48} {:<22} {:<22} {}",
                    key.id,
                    key.name,
                    key.key_hint,
                    key.scopes.to_list(),
                    at(Some(key.created_at)),
                    at(key.last_used_at),
                    at(key.revoked_at)
                );
            }
        }
        KeysCommand::Revoke { id } => {
            keys.revoke(&id).await?;
            println!("Revoked API key {id}.");
        }
    }
    Ok(())
}
