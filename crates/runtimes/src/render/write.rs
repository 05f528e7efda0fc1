//! Writes a rendered config onto an agent's volume.
//!
//! Contract: call [`write_config`] only with a config that passed the
//! runtime's validator. Each file is written to a temporary file in the same
//! directory and renamed over the old one, so a reader sees either the old
//! or the new file, never a partial one. When a file's contents change, the
//! previous version is kept beside it as `<file>.last-good`, so the last
//! config that was accepted can be restored if the new one fails at start.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::RenderedConfig;

/// Suffix of the previous version of each rewritten file.
pub const LAST_GOOD_SUFFIX: &str = ".last-good";

/// Failure to write a rendered config to a volume.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A rendered path is absolute or leaves the volume.
    #[error("rendered path {0:?} must be relative to the volume and must not contain `..`")]
    UnsafePath(String),

    #[error("failed to {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> WriteError + 'a {
    move |source| WriteError::Io { action, path: path.to_path_buf(), source }
}

/// Writes every directory and file of `config` under `volume_dir`, as
/// described in the module documentation.
pub fn write_config(volume_dir: &Path, config: &RenderedConfig) -> Result<(), WriteError> {
    for directory in &config.directories {
        let path = volume_path(volume_dir, directory)?;
        fs::create_dir_all(&path).map_err(io_error("create directory", &path))?;
    }

    for file in &config.files {
        let path = volume_path(volume_dir, &file.path)?;
        write_file(&path, &file.contents, file.mode)?;
    }
    Ok(())
}

/// Joins a rendered relative path to the volume after checking that it
/// stays inside the volume.
fn volume_path(volume_dir: &Path, relative: &str) -> Result<PathBuf, WriteError> {
    let relative_path = Path::new(relative);
    let is_safe = !relative.is_empty()
        && relative_path.components().all(|component| matches!(component, Component::Normal(_)));
    if !is_safe {
        return Err(WriteError::UnsafePath(relative.to_string()));
    }
    Ok(volume_dir.join(relative_path))
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), WriteError> {
    let parent = path.parent().expect("a joined volume path always has a parent");
    fs::create_dir_all(parent).map_err(io_error("create directory", parent))?;

    let previous = match fs::read(path) {
        Ok(previous) => Some(previous),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(io_error("read", path)(error)),
    };
    if previous.as_deref() == Some(contents) {
        // Unchanged: keep the file and its last-good copy as they are, but
        // still apply the mode in case it was changed by hand.
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_error("set mode of", path))?;
        return Ok(());
    }

    if let Some(previous) = previous {
        let last_good = with_suffix(path, LAST_GOOD_SUFFIX);
        let old_mode = fs::metadata(path).map_err(io_error("stat", path))?.permissions().mode() & 0o7777;
        replace_atomically(&last_good, &previous, old_mode)?;
    }
    replace_atomically(path, contents, mode)
}

/// Writes `contents` to a temporary file beside `path`, syncs it and renames
/// it over `path`.
fn replace_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), WriteError> {
    let temporary = with_suffix(path, &format!(".tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&temporary)
            .map_err(io_error("create", &temporary))?;
        // `mode` at creation is filtered by the umask; set it exactly.
        file.set_permissions(fs::Permissions::from_mode(mode)).map_err(io_error("set mode of", &temporary))?;
        file.write_all(contents).map_err(io_error("write", &temporary))?;
        file.sync_all().map_err(io_error("sync", &temporary))?;
        fs::rename(&temporary, path).map_err(io_error("rename onto", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{ChatEndpoint, RenderedFile};

    fn config_with(contents: &str) -> RenderedConfig {
        RenderedConfig {
            volume_mount: "/workspace",
            files: vec![RenderedFile { path: "a/b.json".into(), contents: contents.into(), mode: 0o600 }],
            directories: vec!["work-1".into()],
            guest_config_path: ".gopilot/guest.json".into(),
            command: vec![],
            runtime_port: 1,
            workspace_root: "/workspace".into(),
            chat: ChatEndpoint { base_url: String::new(), path: "/", bearer_token: String::new(), models: vec![] },
        }
    }

    #[test]
    fn previous_version_kept_as_last_good() {
        let volume = tempfile::tempdir().unwrap();

        write_config(volume.path(), &config_with("one")).unwrap();
        write_config(volume.path(), &config_with("two")).unwrap();
        write_config(volume.path(), &config_with("two")).unwrap();

        let file = volume.path().join("a/b.json");
        assert_eq!(fs::read_to_string(&file).unwrap(), "two");
        assert_eq!(fs::read_to_string(volume.path().join("a/b.json.last-good")).unwrap(), "one");
        assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(volume.path().join("work-1").is_dir());
        let leftovers: Vec<_> = fs::read_dir(volume.path().join("a"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn escaping_path_rejected() {
        let volume = tempfile::tempdir().unwrap();
        for bad in ["../x", "/etc/passwd", "a/../../x", ""] {
            let mut config = config_with("x");
            config.files[0].path = bad.into();
            assert!(matches!(write_config(volume.path(), &config), Err(WriteError::UnsafePath(_))), "{bad}");
        }
    }
}
