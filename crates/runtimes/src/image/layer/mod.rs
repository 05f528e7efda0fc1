//! Builds a runtime layer: a Debian root filesystem with one runtime
//! installed, without the guest binary.
//!
//! A layer directory contains `rootfs/`, `layer.json` ([`LayerInfo`]) and,
//! for OpenClaw, `openclaw.schema.json`.

mod base;
mod build_env;
mod hermes;
mod openclaw;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::ImageError;
use super::progress::Progress;
use super::recipe::{Recipe, RuntimeKind};

pub use hermes::HERMES_VENV;
pub use openclaw::OPENCLAW_PREFIX;

pub(crate) const LAYER_INFO_FILE: &str = "layer.json";
pub(crate) const OPENCLAW_SCHEMA_FILE: &str = "openclaw.schema.json";

/// Facts a layer build recorded about the layer's contents.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LayerInfo {
    /// Versions of the tools and runtimes in the layer, by name (for
    /// example `node`, `openclaw`, `python`, `hermes`, `debootstrap`).
    pub tools: BTreeMap<String, String>,
    /// Debian mirror the base system came from.
    pub mirror: String,
}

/// Fills `dir` with the layer for `recipe`; `label` names it in progress output.
pub(crate) fn build_layer(
    dir: &Path,
    recipe: &Recipe,
    label: &str,
    progress: &dyn Progress,
) -> Result<LayerInfo, ImageError> {
    let rootfs = dir.join("rootfs");
    let mut info = LayerInfo::default();

    let base = base::debootstrap(&rootfs, &recipe.base, label, progress)?;
    info.mirror = base.mirror;
    info.tools
        .insert("debootstrap".to_string(), base.debootstrap_version);

    let tools = match recipe.kind {
        RuntimeKind::Openclaw => openclaw::install(dir, &rootfs, recipe, label, progress)?,
        RuntimeKind::Hermes => hermes::install(&rootfs, recipe, label, progress)?,
    };
    info.tools.extend(tools);

    build_env::remove_build_files(&rootfs)?;

    let path = dir.join(LAYER_INFO_FILE);
    let json = serde_json::to_vec_pretty(&info).map_err(|source| ImageError::Manifest {
        path: path.clone(),
        source,
    })?;
    std::fs::write(&path, json).map_err(|source| ImageError::io("write", &path, source))?;
    Ok(info)
}

/// Reads the `layer.json` of a finished layer.
pub(crate) fn read_layer_info(dir: &Path) -> Result<LayerInfo, ImageError> {
    let path = dir.join(LAYER_INFO_FILE);
    let bytes = std::fs::read(&path).map_err(|source| ImageError::io("read", &path, source))?;
    serde_json::from_slice(&bytes).map_err(|source| ImageError::Manifest { path, source })
}
