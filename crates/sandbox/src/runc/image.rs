//! Uid-shifted copies of image root filesystems.
//!
//! A sandbox's root is mapped to host uid `id_base`, so the read-only lower
//! layer must be owned by shifted ids: a file owned by uid 0 in the image is
//! owned by `id_base` in the copy, uid 33 by `id_base + 33`, and so on. The
//! copy is made once per (image path, id base) and shared by every sandbox
//! of that image. Images may share inodes with other trees through
//! hardlinks, so the copy is a real copy; image files are never chowned in
//! place. Hardlinks inside the image stay hardlinks inside the copy.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{mknod, Mode, SFlag};
use nix::unistd::{Gid, Uid};
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use crate::SandboxError;

/// Returns the cached shifted copy of `image`, making it first if needed.
///
/// The copy is built in a temporary directory and renamed into place, so a
/// crash never leaves a half-made copy under the final name.
/// TODO: the cache is keyed by path only; an image rebuilt in place at the
/// same path keeps its old copy until the cache directory is removed.
pub(crate) fn shifted_copy(
    cache_dir: &Path,
    image: &Path,
    id_base: u32,
    id_count: u32,
) -> Result<PathBuf, SandboxError> {
    let image =
        fs::canonicalize(image).map_err(|e| SandboxError::io("resolving image", image, e))?;
    let key = cache_key(&image, id_base);
    let target = cache_dir.join(&key);
    if target.is_dir() {
        return Ok(target);
    }

    fs::create_dir_all(cache_dir).map_err(|e| SandboxError::io("creating", cache_dir, e))?;
    let temporary = cache_dir.join(format!(".{key}.{}.tmp", std::process::id()));
    if temporary.exists() {
        fs::remove_dir_all(&temporary).map_err(|e| SandboxError::io("removing", &temporary, e))?;
    }

    let started = std::time::Instant::now();
    copy_tree(&image, &temporary, id_base, id_count)?;

    match fs::rename(&temporary, &target) {
        Ok(()) => {}
        // Another process finished the same copy first; use theirs.
        Err(_) if target.is_dir() => {
            let _ = fs::remove_dir_all(&temporary);
        }
        Err(error) => return Err(SandboxError::io("renaming", &temporary, error)),
    }
    tracing::info!(
        image = %image.display(),
        copy = %target.display(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "made uid-shifted image copy"
    );
    Ok(target)
}

/// Cache directory name: a digest of the canonical image path and id base.
fn cache_key(image: &Path, id_base: u32) -> String {
    let mut digest = Sha256::new();
    digest.update(image.as_os_str().as_encoded_bytes());
    digest.update(id_base.to_le_bytes());
    hex::encode(&digest.finalize()[..16])
}

fn shift(id: u32, id_base: u32, id_count: u32, path: &Path) -> Result<u32, SandboxError> {
    if id >= id_count {
        return Err(SandboxError::InvalidSpec(format!(
            "image file {} is owned by id {id}, outside the {id_count} ids mapped into sandboxes",
            path.display()
        )));
    }
    Ok(id_base + id)
}

/// Copies `source` to `target` with every uid and gid shifted by `id_base`
/// and mode bits, setuid and setgid included, kept.
/// NOTE: extended attributes (file capabilities, ACLs) are not copied.
fn copy_tree(
    source: &Path,
    target: &Path,
    id_base: u32,
    id_count: u32,
) -> Result<(), SandboxError> {
    // (device, inode) of multiply linked files already copied -> their copy.
    let mut copied_links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    // Directory modes and times are set after their contents are written.
    let mut directories: Vec<(PathBuf, fs::Metadata)> = Vec::new();

    for entry in WalkDir::new(source).follow_links(false) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(source).to_path_buf();
            SandboxError::io("reading image", path, e.into())
        })?;
        let relative = entry
            .path()
            .strip_prefix(source)
            .expect("walkdir yields paths under its root");
        let destination = target.join(relative);
        let metadata = entry
            .path()
            .symlink_metadata()
            .map_err(|e| SandboxError::io("reading image", entry.path(), e))?;
        let file_type = metadata.file_type();

        if file_type.is_dir() {
            fs::create_dir(&destination)
                .map_err(|e| SandboxError::io("creating", &destination, e))?;
            directories.push((destination.clone(), metadata.clone()));
        } else if metadata.nlink() > 1
            && copied_links.contains_key(&(metadata.dev(), metadata.ino()))
        {
            let first = &copied_links[&(metadata.dev(), metadata.ino())];
            fs::hard_link(first, &destination)
                .map_err(|e| SandboxError::io("linking", &destination, e))?;
            continue;
        } else if file_type.is_symlink() {
            let link = fs::read_link(entry.path())
                .map_err(|e| SandboxError::io("reading", entry.path(), e))?;
            std::os::unix::fs::symlink(link, &destination)
                .map_err(|e| SandboxError::io("creating symlink", &destination, e))?;
        } else if file_type.is_file() {
            fs::copy(entry.path(), &destination)
                .map_err(|e| SandboxError::io("copying to", &destination, e))?;
        } else {
            copy_special(&metadata, &destination)?;
        }

        let uid = shift(metadata.uid(), id_base, id_count, entry.path())?;
        let gid = shift(metadata.gid(), id_base, id_count, entry.path())?;
        nix::unistd::fchownat(
            None,
            &destination,
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| SandboxError::io("changing owner of", &destination, e.into()))?;

        // chown clears setuid and setgid, so the mode is set after it.
        if !file_type.is_symlink() && !file_type.is_dir() {
            fs::set_permissions(
                &destination,
                fs::Permissions::from_mode(metadata.mode() & 0o7777),
            )
            .map_err(|e| SandboxError::io("setting mode of", &destination, e))?;
        }
        if metadata.nlink() > 1 && !file_type.is_dir() {
            copied_links.insert((metadata.dev(), metadata.ino()), destination);
        }
    }

    for (directory, metadata) in directories.iter().rev() {
        fs::set_permissions(
            directory,
            fs::Permissions::from_mode(metadata.mode() & 0o7777),
        )
        .map_err(|e| SandboxError::io("setting mode of", directory, e))?;
    }
    Ok(())
}

/// Recreates a device node, FIFO or socket entry.
fn copy_special(metadata: &fs::Metadata, destination: &Path) -> Result<(), SandboxError> {
    let kind = SFlag::from_bits_truncate(metadata.mode() & SFlag::S_IFMT.bits());
    let permissions = Mode::from_bits_truncate(metadata.mode() & 0o7777);
    mknod(destination, kind, permissions, metadata.rdev())
        .map_err(|e| SandboxError::io("creating node", destination, e.into()))
}
