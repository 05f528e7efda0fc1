//! `gopilot images`: build and list the runtime images.

use anyhow::Context;
use clap::Subcommand;
use gopilot_runtimes::image::{BuildOptions, ImageStore, RuntimeKind, TerminalProgress};
use std::path::PathBuf;

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Build the image of one runtime, or of both; an existing image is kept.
    Build {
        /// `openclaw`, `hermes` or `all`.
        #[arg(default_value = "all")]
        runtime: String,
        /// gopilot-guest binary to put into the images; default: the one
        /// next to this executable.
        #[arg(long)]
        guest: Option<PathBuf>,
    },
    /// List the complete images with runtime, version, size and creation time.
    List,
}

pub async fn run(config: &Config, command: ImagesCommand) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let store = ImageStore::open(&config.data_dir).context("cannot open the image store")?;

    match command {
        ImagesCommand::Build { runtime, guest } => {
            let kinds: Vec<RuntimeKind> = match runtime.as_str() {
                "all" => RuntimeKind::ALL.to_vec(),
                other => vec![other
                    .parse()
                    .map_err(|_| anyhow::anyhow!("unknown runtime {other:?}; use openclaw, hermes or all"))?],
            };
            let options = BuildOptions { guest_binary: guest };
            for kind in kinds {
                let store = store.clone();
                let options = options.clone();
                let image = tokio::task::spawn_blocking(move || store.build(kind, &options, &TerminalProgress::new()))
                    .await
                    .expect("image build task does not panic")
                    .with_context(|| format!("building the {kind} image failed"))?;
                println!("{kind}: {} ({})", image.id(), image.dir.display());
            }
        }
        ImagesCommand::List => {
            println!("{:<10} {:<10} {:<14} {:>10}  {}", "RUNTIME", "VERSION", "ID", "SIZE", "CREATED");
            for image in store.list().context("cannot list images")? {
                println!(
                    "{:<10} {:<10} {:<14} {:>7} MB  {}",
                    image.kind.to_string(),
                    image.runtime_version,
                    &image.id[..12.min(image.id.len())],
                    image.size_bytes / (1024 * 1024),
                    image.created_at
                );
            }
        }
    }
    Ok(())
}
