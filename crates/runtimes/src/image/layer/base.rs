//! The Debian base system of a layer, made by debootstrap.

use std::path::Path;
use std::process::Command;

use crate::image::command::run_tool;
use crate::image::error::ImageError;
use crate::image::fs_util::list_dir;
use crate::image::host_config::debian_mirror;
use crate::image::progress::{run_step, Progress};
use crate::image::recipe::BaseRecipe;
use crate::image::step::Step;

pub(crate) struct BaseSystem {
    pub mirror: String,
    pub debootstrap_version: String,
}

/// Runs debootstrap into `rootfs` from the host's configured Debian mirror,
/// then drops the downloaded packages and apt lists, which only cost space.
pub(crate) fn debootstrap(
    rootfs: &Path,
    base: &BaseRecipe,
    label: &str,
    progress: &dyn Progress,
) -> Result<BaseSystem, ImageError> {
    let mirror = debian_mirror(&base.suite)?;
    let version = run_tool(
        Step::Debootstrap,
        Command::new("debootstrap").arg("--version"),
    )?;

    run_step(progress, label, Step::Debootstrap, || {
        // debootstrap mounts /proc and /sys in the target; a private mount
        // namespace makes those mounts vanish even if the build is killed,
        // and a PID namespace takes dpkg and wget down with debootstrap.
        let mut command = Command::new("unshare");
        command
            .args([
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                "--",
                "debootstrap",
            ])
            .arg(format!("--variant={}", base.variant))
            .arg(format!("--include={}", base.packages.join(",")))
            .arg(&base.suite)
            .arg(rootfs)
            .arg(&mirror);
        run_tool(Step::Debootstrap, &mut command)?;

        for dir in ["var/cache/apt/archives", "var/lib/apt/lists"] {
            for entry in list_dir(&rootfs.join(dir))? {
                if entry.is_dir() {
                    continue;
                }
                std::fs::remove_file(&entry)
                    .map_err(|source| ImageError::io("remove", &entry, source))?;
            }
        }
        Ok(())
    })?;

    Ok(BaseSystem {
        mirror,
        debootstrap_version: version
            .trim()
            .trim_start_matches("debootstrap ")
            .to_string(),
    })
}
