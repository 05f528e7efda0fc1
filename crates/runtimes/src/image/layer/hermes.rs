//! Installs Hermes Agent into a layer: a virtual environment on Debian's
//! Python with `hermes-agent` and its messaging extras, installed by pip
//! inside the root filesystem.

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::Path;

use super::build_env;
use crate::image::chroot::ChrootCommand;
use crate::image::command::run_tool;
use crate::image::error::ImageError;
use crate::image::host_config::pip_settings;
use crate::image::progress::{run_step, Progress};
use crate::image::recipe::Recipe;
use crate::image::step::Step;

/// Virtual environment of Hermes inside the image.
pub const HERMES_VENV: &str = "/opt/hermes/venv";

pub(crate) fn install(
    rootfs: &Path,
    recipe: &Recipe,
    label: &str,
    progress: &dyn Progress,
) -> Result<BTreeMap<String, String>, ImageError> {
    run_step(progress, label, Step::PipInstallHermes, || {
        install_hermes(rootfs, recipe)
    })?;
    run_step(progress, label, Step::RuntimeVersions, || {
        read_versions(rootfs, recipe)
    })
}

fn install_hermes(rootfs: &Path, recipe: &Recipe) -> Result<(), ImageError> {
    run_tool(
        Step::PipInstallHermes,
        &mut ChrootCommand::new(rootfs, "python3")
            .args(["-m", "venv", HERMES_VENV])
            .into_command(),
    )?;

    let requirement = if recipe.extras.is_empty() {
        format!("hermes-agent=={}", recipe.runtime_version)
    } else {
        format!(
            "hermes-agent[{}]=={}",
            recipe.extras.join(","),
            recipe.runtime_version
        )
    };
    let settings = pip_settings();
    let mut pip = ChrootCommand::new(rootfs, &format!("{HERMES_VENV}/bin/pip"))
        .args([
            "install",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--no-input",
        ])
        .arg(requirement);
    for (key, value) in &settings.index_env {
        pip = pip.env(key, value);
    }
    if let Some(cert) = &settings.cert {
        pip = pip.env("PIP_CERT", build_env::copy_ca_bundle(rootfs, cert)?);
    }
    run_tool(Step::PipInstallHermes, &mut pip.into_command())?;

    let link = rootfs.join("usr/local/bin/hermes");
    symlink(format!("{HERMES_VENV}/bin/hermes"), &link)
        .map_err(|source| ImageError::io("create symlink", &link, source))
}

/// Returns the Python and Hermes versions in the image, after checking that
/// the installed package is the recipe's version and that the CLI starts.
fn read_versions(rootfs: &Path, recipe: &Recipe) -> Result<BTreeMap<String, String>, ImageError> {
    let python = run_tool(
        Step::RuntimeVersions,
        &mut ChrootCommand::new(rootfs, &format!("{HERMES_VENV}/bin/python"))
            .args(["-c", "import platform; print(platform.python_version())"])
            .into_command(),
    )?;
    let installed = run_tool(
        Step::RuntimeVersions,
        &mut ChrootCommand::new(rootfs, &format!("{HERMES_VENV}/bin/python"))
            .args([
                "-c",
                "import importlib.metadata as m; print(m.version('hermes-agent'))",
            ])
            .into_command(),
    )?;
    if installed.trim() != recipe.runtime_version {
        return Err(ImageError::StepInvalid {
            step: Step::RuntimeVersions,
            reason: format!(
                "pip installed hermes-agent {:?}, expected {}",
                installed.trim(),
                recipe.runtime_version
            ),
        });
    }

    let home = build_env::create_dir(rootfs, "home")?;
    run_tool(
        Step::RuntimeVersions,
        &mut ChrootCommand::new(rootfs, "hermes")
            .arg("--version")
            .env("HOME", &home)
            .env("HERMES_HOME", format!("{home}/.hermes"))
            .into_command(),
    )?;

    Ok(BTreeMap::from([
        ("python".to_string(), python.trim().to_string()),
        ("hermes".to_string(), installed.trim().to_string()),
    ]))
}
