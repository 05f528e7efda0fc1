//! Filesystem helpers of the image store: directories that appear only
//! when complete, safe removal, and sizes.

use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::error::ImageError;

const TEMP_PREFIX: &str = ".tmp-";
const LOCK_PREFIX: &str = ".lock-";

/// Whether [`create_atomically`] built the directory or found it complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Created {
    Built,
    AlreadyExisted,
}

/// Creates `parent/name` by running `fill` on a temp directory
/// `parent/.tmp-<name>-<pid>` and renaming it into place when `fill`
/// succeeds, so `parent/name` exists only when complete.
///
/// An exclusive lock on `parent/.lock-<name>` is held throughout: a second
/// caller waits, then finds the directory and returns `AlreadyExisted`.
/// Temp directories left for `name` by killed builds are removed first; the
/// temp directory of a failed `fill` is removed too.
pub(crate) fn create_atomically(
    parent: &Path,
    name: &str,
    fill: impl FnOnce(&Path) -> Result<(), ImageError>,
) -> Result<Created, ImageError> {
    let target = parent.join(name);
    let _lock = lock_exclusive(&parent.join(format!("{LOCK_PREFIX}{name}")))?;
    if target.exists() {
        return Ok(Created::AlreadyExisted);
    }

    remove_stale_temp_dirs(parent, name)?;

    let temp = parent.join(format!("{TEMP_PREFIX}{name}-{}", std::process::id()));
    std::fs::create_dir(&temp).map_err(|source| ImageError::io("create", &temp, source))?;

    if let Err(error) = fill(&temp) {
        if let Err(cleanup) = remove_dir_checked(&temp) {
            tracing::warn!(path = %temp.display(), error = %cleanup, "failed to remove temp directory of a failed build");
        }
        return Err(error);
    }

    std::fs::rename(&temp, &target)
        .map_err(|source| ImageError::io("rename into place", &target, source))?;
    Ok(Created::Built)
}

/// Opens (creating if needed) and exclusively locks the file at `path`; the
/// lock is released when the returned file is dropped or the process dies.
fn lock_exclusive(path: &Path) -> Result<File, ImageError> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|source| ImageError::io("open lock file", path, source))?;
    file.lock()
        .map_err(|source| ImageError::io("lock", path, source))?;
    Ok(file)
}

/// Removes `parent/.tmp-<name>-*`. The caller holds the lock for `name`, so
/// any such directory belongs to a build that no longer runs.
fn remove_stale_temp_dirs(parent: &Path, name: &str) -> Result<(), ImageError> {
    let prefix = format!("{TEMP_PREFIX}{name}-");
    for stale in list_dir(parent)?
        .into_iter()
        .filter(|path| file_name_starts_with(path, &prefix))
    {
        tracing::info!(path = %stale.display(), "removing temp directory of an interrupted build");
        remove_dir_checked(&stale)?;
    }
    Ok(())
}

/// Returns true when `path` is a temp directory of a build.
pub(crate) fn is_temp_dir(path: &Path) -> bool {
    file_name_starts_with(path, TEMP_PREFIX)
}

fn file_name_starts_with(path: &Path, prefix: &str) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with(prefix))
}

/// Lists the entries of `dir`, or nothing when it does not exist.
pub(crate) fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ImageError::io("list", dir, source)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ImageError::io("list", dir, source))?;
        paths.push(entry.path());
    }
    paths.sort();
    Ok(paths)
}

/// Removes the directory tree at `path`, but first checks that nothing is
/// mounted inside it: removing a tree with, say, /dev bind-mounted in it
/// would delete the host's files.
pub(crate) fn remove_dir_checked(path: &Path) -> Result<(), ImageError> {
    let canonical = match path.canonicalize() {
        Ok(canonical) => canonical,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(ImageError::io("resolve", path, source)),
    };

    let mountinfo = "/proc/self/mountinfo";
    let text = std::fs::read_to_string(mountinfo)
        .map_err(|source| ImageError::io("read", mountinfo, source))?;
    if let Some(mount_point) = mount_inside(&canonical, &text) {
        return Err(ImageError::MountedInside {
            path: path.to_path_buf(),
            mount_point,
        });
    }

    std::fs::remove_dir_all(path).map_err(|source| ImageError::io("remove", path, source))
}

/// Returns the first mount point of `mountinfo` at or below `dir`.
fn mount_inside(dir: &Path, mountinfo: &str) -> Option<PathBuf> {
    mount_points(mountinfo)
        .into_iter()
        .find(|mount| mount.starts_with(dir))
}

/// Parses the mount points (fifth field) of a /proc/<pid>/mountinfo text.
/// The kernel escapes space, tab, newline and backslash as octal.
fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| {
            PathBuf::from(
                field
                    .replace("\\040", " ")
                    .replace("\\011", "\t")
                    .replace("\\012", "\n")
                    .replace("\\134", "\\"),
            )
        })
        .collect()
}

/// Returns the bytes of all files and symlinks under `root`, counting each
/// inode once, so files hardlinked within the tree are counted once.
pub(crate) fn tree_size(root: &Path) -> Result<u64, ImageError> {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for path in list_dir(&dir)? {
            let meta = std::fs::symlink_metadata(&path)
                .map_err(|source| ImageError::io("stat", &path, source))?;
            if meta.is_dir() {
                pending.push(path);
            } else if seen.insert((meta.dev(), meta.ino())) {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_create_renames_on_success() {
        let parent = tempfile::tempdir().unwrap();
        let created = create_atomically(parent.path(), "image", |temp| {
            std::fs::write(temp.join("file"), b"x")
                .map_err(|source| ImageError::io("write", temp, source))
        })
        .unwrap();
        assert_eq!(created, Created::Built);
        assert!(parent.path().join("image/file").exists());

        let again =
            create_atomically(parent.path(), "image", |_| panic!("must not rebuild")).unwrap();
        assert_eq!(again, Created::AlreadyExisted);
    }

    #[test]
    fn atomic_create_cleans_failed_and_stale_temp() {
        let parent = tempfile::tempdir().unwrap();
        let stale = parent.path().join(".tmp-image-999999");
        std::fs::create_dir_all(stale.join("rootfs")).unwrap();

        let result = create_atomically(parent.path(), "image", |temp| {
            assert!(
                !stale.exists(),
                "stale temp dir is removed before the build"
            );
            Err(ImageError::io(
                "write",
                temp,
                std::io::Error::other("disk full"),
            ))
        });

        assert!(result.is_err());
        assert!(!parent.path().join("image").exists());
        let leftovers: Vec<_> = list_dir(parent.path())
            .unwrap()
            .into_iter()
            .filter(|path| is_temp_dir(path))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn mount_points_unescape_spaces() {
        let text = "36 35 98:0 /mnt1 /mnt\\040point rw,noatime master:1 - ext3 /dev/root rw\n";
        assert_eq!(mount_points(text), vec![PathBuf::from("/mnt point")]);
    }

    #[test]
    fn mount_inside_finds_nested_mount_only() {
        let text = "1 0 8:1 / / rw - ext4 /dev/vda rw\n\
                    2 1 0:5 / /data/images/.tmp-x/rootfs/dev rw - devtmpfs udev rw\n";
        assert_eq!(
            mount_inside(Path::new("/data/images/.tmp-x"), text),
            Some(PathBuf::from("/data/images/.tmp-x/rootfs/dev"))
        );
        assert_eq!(mount_inside(Path::new("/data/images/.tmp-y"), text), None);
    }

    #[test]
    fn tree_size_counts_hardlinks_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), vec![0u8; 1000]).unwrap();
        std::fs::hard_link(dir.path().join("a"), dir.path().join("b")).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/c"), vec![0u8; 24]).unwrap();
        assert_eq!(tree_size(dir.path()).unwrap(), 1024);
    }
}
