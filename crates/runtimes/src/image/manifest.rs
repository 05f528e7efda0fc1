use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::ImageError;
use super::recipe::{Recipe, RuntimeKind};

pub(crate) const MANIFEST_FILE: &str = "manifest.json";

/// The description of a finished image, stored as `manifest.json` next to
/// its `rootfs/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub kind: RuntimeKind,
    pub runtime_version: String,
    /// Hex SHA-256 of the recipe and the guest binary.
    pub id: String,
    /// Hex SHA-256 of the recipe alone: the runtime layer this image was made from.
    pub layer_id: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// Bytes of the files in `rootfs/`, each inode counted once.
    pub size_bytes: u64,
    pub recipe: Recipe,
    pub guest_sha256: String,
    /// Versions of the tools and runtimes in the image, by name.
    pub tools: BTreeMap<String, String>,
    /// Debian mirror the base system came from.
    pub mirror: String,
    /// File name of OpenClaw's config JSON Schema in the image directory;
    /// `None` for other runtimes.
    pub schema: Option<String>,
}

impl Manifest {
    pub(crate) fn read(image_dir: &Path) -> Result<Manifest, ImageError> {
        let path = image_dir.join(MANIFEST_FILE);
        let bytes = std::fs::read(&path).map_err(|source| ImageError::io("read", &path, source))?;
        serde_json::from_slice(&bytes).map_err(|source| ImageError::Manifest { path, source })
    }

    pub(crate) fn write(&self, image_dir: &Path) -> Result<(), ImageError> {
        let path = image_dir.join(MANIFEST_FILE);
        let json = serde_json::to_vec_pretty(self).map_err(|source| ImageError::Manifest {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&path, json).map_err(|source| ImageError::io("write", &path, source))
    }
}

/// A finished image on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The image directory: `<data>/images/<kind>-<id12>`.
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Image {
    pub fn kind(&self) -> RuntimeKind {
        self.manifest.kind
    }

    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    /// Returns the root filesystem. Consumers must not change it, because its
    /// files are hardlinks shared with the runtime layer and other images.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// OpenClaw's config JSON Schema, for OpenClaw images.
    pub fn schema_path(&self) -> Option<PathBuf> {
        self.manifest
            .schema
            .as_ref()
            .map(|name| self.dir.join(name))
    }
}

/// One line of `gopilot images list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    pub kind: RuntimeKind,
    pub runtime_version: String,
    pub id: String,
    pub size_bytes: u64,
    pub created_at: String,
    pub dir: PathBuf,
}

impl From<&Image> for ImageInfo {
    fn from(image: &Image) -> Self {
        ImageInfo {
            kind: image.manifest.kind,
            runtime_version: image.manifest.runtime_version.clone(),
            id: image.manifest.id.clone(),
            size_bytes: image.manifest.size_bytes,
            created_at: image.manifest.created_at.clone(),
            dir: image.dir.clone(),
        }
    }
}
