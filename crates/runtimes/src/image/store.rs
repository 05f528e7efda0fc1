//! The image store under `<data>/images`:
//!
//! ```text
//! images/
//!   layers/<kind>-<layer id 12>/{rootfs/, layer.json, openclaw.schema.json}
//!   <kind>-<image id 12>/{rootfs/, manifest.json, openclaw.schema.json}
//!   .lock-<name>, .tmp-<name>-<pid>/   (locks and unfinished builds)
//! ```
//!
//! A runtime layer (debootstrap plus the runtime) is keyed by the recipe
//! alone. An image is that layer plus the guest binary, keyed by both, so a
//! new guest binary costs a hardlinked copy of the layer, not a rebuild.
//!
//! TODO: images and layers of old recipes or guests are never removed.

use std::path::{Path, PathBuf};
use std::process::Command;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::command::run_tool;
use super::error::ImageError;
use super::fs_util::{create_atomically, is_temp_dir, list_dir, tree_size, Created};
use super::guest::{locate_guest_binary, sha256_file};
use super::layer::{self, OPENCLAW_SCHEMA_FILE};
use super::manifest::{Image, ImageInfo, Manifest, MANIFEST_FILE};
use super::progress::{run_step, Progress};
use super::recipe::{directory_name, Recipe, RuntimeKind};
use super::step::Step;

/// Path of the supervisor inside every image.
pub const GUEST_PATH_IN_IMAGE: &str = "/usr/local/bin/gopilot-guest";

/// Options of a build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The `gopilot-guest` binary to put into the image; when `None` it is
    /// looked up as [`locate_guest_binary`] describes.
    pub guest_binary: Option<PathBuf>,
}

/// The runtime images under one data directory.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
}

impl ImageStore {
    /// Opens the store at `<data_dir>/images`, creating the directory.
    pub fn open(data_dir: &Path) -> Result<ImageStore, ImageError> {
        let root = data_dir.join("images");
        std::fs::create_dir_all(root.join("layers"))
            .map_err(|source| ImageError::io("create", &root, source))?;
        Ok(ImageStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Builds the image of `kind` for the current recipe and guest binary,
    /// or returns the existing one. Blocks for minutes on a cold build; runs
    /// debootstrap, mount and chroot, so it requires root.
    pub fn build(
        &self,
        kind: RuntimeKind,
        options: &BuildOptions,
        progress: &dyn Progress,
    ) -> Result<Image, ImageError> {
        let uid = nix::unistd::geteuid().as_raw();
        if uid != 0 {
            return Err(ImageError::NotRoot { uid });
        }

        let recipe = Recipe::current(kind);
        let guest = locate_guest_binary(options.guest_binary.as_deref())?;
        let guest_sha256 = sha256_file(&guest)?;
        let image_id = recipe.image_id(&guest_sha256);
        let name = directory_name(kind, &image_id);

        let existing = self.root.join(&name);
        if existing.join(MANIFEST_FILE).exists() {
            progress.note(&name, "image exists; skipped build");
            tracing::info!(image = %name, "image exists; skipped build");
            return self.load(&existing);
        }

        let layer_dir = self.ensure_layer(&recipe, progress)?;
        let created = create_atomically(&self.root, &name, |temp| {
            assemble_image(
                temp,
                &layer_dir,
                &recipe,
                &guest,
                &guest_sha256,
                &image_id,
                &name,
                progress,
            )
        })?;
        if created == Created::AlreadyExisted {
            progress.note(
                &name,
                "image was built by another build meanwhile; skipped build",
            );
        }
        self.load(&existing)
    }

    /// Returns the complete images, newest first. Directories without a
    /// readable manifest (unfinished or damaged) are left out.
    pub fn list(&self) -> Result<Vec<ImageInfo>, ImageError> {
        let mut images: Vec<ImageInfo> = self.images()?.iter().map(ImageInfo::from).collect();
        images.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        Ok(images)
    }

    /// Returns the image of `kind` that matches the current recipe and guest
    /// binary, if it has been built.
    pub fn find(
        &self,
        kind: RuntimeKind,
        options: &BuildOptions,
    ) -> Result<Option<Image>, ImageError> {
        let guest = locate_guest_binary(options.guest_binary.as_deref())?;
        let image_id = Recipe::current(kind).image_id(&sha256_file(&guest)?);
        let dir = self.root.join(directory_name(kind, &image_id));
        if !dir.join(MANIFEST_FILE).exists() {
            return Ok(None);
        }
        self.load(&dir).map(Some)
    }

    /// Returns the newest complete image of `kind`, whatever its recipe.
    pub fn newest(&self, kind: RuntimeKind) -> Result<Option<Image>, ImageError> {
        let mut images: Vec<Image> = self
            .images()?
            .into_iter()
            .filter(|image| image.kind() == kind)
            .collect();
        images.sort_by(|a, b| b.manifest.created_at.cmp(&a.manifest.created_at));
        Ok(images.into_iter().next())
    }

    fn images(&self) -> Result<Vec<Image>, ImageError> {
        let mut images = Vec::new();
        for dir in list_dir(&self.root)? {
            let hidden = dir
                .file_name()
                .and_then(|name| name.to_str())
                .is_none_or(|name| name.starts_with('.'));
            if hidden || is_temp_dir(&dir) || dir.ends_with("layers") || !dir.is_dir() {
                continue;
            }
            match self.load(&dir) {
                Ok(image) => images.push(image),
                Err(error) => {
                    tracing::warn!(dir = %dir.display(), %error, "skipping image directory without a valid manifest")
                }
            }
        }
        Ok(images)
    }

    fn load(&self, dir: &Path) -> Result<Image, ImageError> {
        Ok(Image {
            dir: dir.to_path_buf(),
            manifest: Manifest::read(dir)?,
        })
    }

    /// Returns the runtime layer's directory for `recipe`, building it first
    /// when missing.
    fn ensure_layer(
        &self,
        recipe: &Recipe,
        progress: &dyn Progress,
    ) -> Result<PathBuf, ImageError> {
        let layers = self.root.join("layers");
        let name = directory_name(recipe.kind, &recipe.layer_id());
        let created = create_atomically(&layers, &name, |temp| {
            layer::build_layer(temp, recipe, &name, progress).map(|_| ())
        })?;
        if created == Created::AlreadyExisted {
            progress.note(&name, "runtime layer exists; reusing it");
        }
        Ok(layers.join(name))
    }
}

/// Fills `temp` with the final image: a hardlinked copy of the layer's root
/// filesystem, a fresh copy of the guest binary, the schema and the manifest.
#[allow(clippy::too_many_arguments)]
fn assemble_image(
    temp: &Path,
    layer_dir: &Path,
    recipe: &Recipe,
    guest: &Path,
    guest_sha256: &str,
    image_id: &str,
    label: &str,
    progress: &dyn Progress,
) -> Result<(), ImageError> {
    let layer_info = layer::read_layer_info(layer_dir)?;
    let rootfs = temp.join("rootfs");

    run_step(progress, label, Step::GuestCopy, || {
        // Hardlinks make the copy cheap. Files shared with the layer must
        // never be written in place, only replaced by new files.
        run_tool(
            Step::GuestCopy,
            Command::new("cp")
                .arg("-al")
                .arg(layer_dir.join("rootfs"))
                .arg(&rootfs),
        )?;
        install_guest(&rootfs, guest)
    })?;

    run_step(progress, label, Step::Finalize, || {
        let schema_source = layer_dir.join(OPENCLAW_SCHEMA_FILE);
        let schema = if schema_source.exists() {
            let target = temp.join(OPENCLAW_SCHEMA_FILE);
            std::fs::copy(&schema_source, &target)
                .map_err(|source| ImageError::io("copy schema to", &target, source))?;
            Some(OPENCLAW_SCHEMA_FILE.to_string())
        } else {
            None
        };

        let created_at = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .expect("the current time formats as RFC 3339");
        let manifest = Manifest {
            kind: recipe.kind,
            runtime_version: recipe.runtime_version.clone(),
            id: image_id.to_string(),
            layer_id: recipe.layer_id(),
            created_at,
            size_bytes: tree_size(&rootfs)?,
            recipe: recipe.clone(),
            guest_sha256: guest_sha256.to_string(),
            tools: layer_info.tools,
            mirror: layer_info.mirror,
            schema,
        };
        manifest.write(temp)
    })
}

/// Puts a new copy of the guest binary at [`GUEST_PATH_IN_IMAGE`]. Any file
/// already there is unlinked first, because it may be a hardlink shared
/// with the layer.
fn install_guest(rootfs: &Path, guest: &Path) -> Result<(), ImageError> {
    use std::os::unix::fs::PermissionsExt;

    let target = rootfs.join(GUEST_PATH_IN_IMAGE.trim_start_matches('/'));
    match std::fs::remove_file(&target) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(ImageError::io("remove", &target, source)),
    }
    std::fs::copy(guest, &target)
        .map_err(|source| ImageError::io("copy guest binary to", &target, source))?;
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
        .map_err(|source| ImageError::io("chmod", &target, source))
}
