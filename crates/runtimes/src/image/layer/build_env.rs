//! Files a build puts into the root filesystem only while it runs: the
//! host's CA bundle, package caches, a scratch HOME. They are removed before
//! the layer is complete.

use std::path::{Path, PathBuf};

use crate::image::error::ImageError;
use crate::image::fs_util::remove_dir_checked;

/// Scratch directory inside the root filesystem during a build.
pub(crate) const BUILD_DIR_IN_ROOTFS: &str = "/tmp/gopilot-build";

/// Caches that package tools leave in the root filesystem and that an image
/// does not need.
const CACHE_DIRS: [&str; 3] = ["root/.npm", "root/.cache", "tmp/node-compile-cache"];

/// Returns the host path of `BUILD_DIR_IN_ROOTFS/<name>` inside `rootfs`.
pub(crate) fn host_path(rootfs: &Path, name: &str) -> PathBuf {
    rootfs
        .join(BUILD_DIR_IN_ROOTFS.trim_start_matches('/'))
        .join(name)
}

/// Copies the host CA bundle at `host_file` into the build directory and
/// returns its path as seen inside the root filesystem. The host may sit
/// behind a TLS-inspecting proxy whose CA Debian's bundle lacks.
pub(crate) fn copy_ca_bundle(rootfs: &Path, host_file: &Path) -> Result<String, ImageError> {
    let target = host_path(rootfs, "host-ca.crt");
    let parent = target.parent().expect("the build file has a parent");
    std::fs::create_dir_all(parent).map_err(|source| ImageError::io("create", parent, source))?;
    std::fs::copy(host_file, &target)
        .map_err(|source| ImageError::io("copy CA bundle to", &target, source))?;
    Ok(format!("{BUILD_DIR_IN_ROOTFS}/host-ca.crt"))
}

/// Creates `BUILD_DIR_IN_ROOTFS/<name>` and returns its path inside the root filesystem.
pub(crate) fn create_dir(rootfs: &Path, name: &str) -> Result<String, ImageError> {
    let path = host_path(rootfs, name);
    std::fs::create_dir_all(&path).map_err(|source| ImageError::io("create", &path, source))?;
    Ok(format!("{BUILD_DIR_IN_ROOTFS}/{name}"))
}

/// Removes the build directory and package caches from `rootfs`.
pub(crate) fn remove_build_files(rootfs: &Path) -> Result<(), ImageError> {
    remove_dir_checked(&rootfs.join(BUILD_DIR_IN_ROOTFS.trim_start_matches('/')))?;
    for cache in CACHE_DIRS {
        remove_dir_checked(&rootfs.join(cache))?;
    }
    Ok(())
}
