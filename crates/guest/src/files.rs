//! Workspace file access for the file API, confined to `workspace_root`.
//!
//! Every request path is walked one component at a time from an open handle
//! on the root with `O_NOFOLLOW`. So a symlink anywhere in the path is
//! rejected, whether it points inside or outside the root, and a concurrent
//! rename cannot redirect the walk. All functions block; call them from
//! `spawn_blocking`.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use gopilot_guest_api::{FileEntry, FileList};
use nix::errno::Errno;
use nix::fcntl::{openat, renameat, OFlag};
use nix::sys::stat::{fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

use crate::timestamp::system_time_rfc3339;

/// Most entries `GET /v1/files` returns; the listing is marked truncated beyond it.
pub const MAX_LIST_ENTRIES: usize = 10_000;

/// Failure of a workspace file operation.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("invalid path `{path}`: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("path `{path}` contains the hidden name `{name}`, which the file API does not serve")]
    Hidden { path: String, name: String },
    #[error("path `{path}` goes through the symlink `{component}`; the file API does not follow symlinks")]
    Symlink { path: String, component: String },
    #[error("path `{path}`: `{component}` is not a directory")]
    NotADirectory { path: String, component: String },
    #[error("path `{path}` is not a regular file")]
    NotAFile { path: String },
    #[error("file `{path}` not found")]
    NotFound { path: String },
    #[error("{action} `{path}` failed: {source}")]
    Io {
        action: &'static str,
        path: String,
        source: std::io::Error,
    },
}

/// Failure to create or resolve the workspace root at start.
#[derive(Debug, thiserror::Error)]
#[error("cannot prepare workspace root {path} (config field `workspace_root`): {source}")]
pub struct WorkspaceRootError {
    path: PathBuf,
    source: std::io::Error,
}

/// The directory tree that the file API serves.
pub struct Workspace {
    /// Canonical root, so it contains no symlink itself.
    root: PathBuf,
    hidden: HashSet<String>,
}

/// A validated request path: the parent directories and the final name.
struct RelativePath<'a> {
    text: &'a str,
    parents: Vec<&'a str>,
    name: &'a str,
}

impl Workspace {
    /// Creates `root` when missing and resolves it to its canonical path.
    pub fn open(root: &Path, hidden_files: &[String]) -> Result<Self, WorkspaceRootError> {
        let error = |source| WorkspaceRootError {
            path: root.to_owned(),
            source,
        };
        std::fs::create_dir_all(root).map_err(error)?;
        let root = root.canonicalize().map_err(error)?;

        Ok(Self {
            root,
            hidden: hidden_files.iter().cloned().collect(),
        })
    }

    /// Opens a regular file for reading and returns it with its size in bytes.
    pub fn read(&self, path: &str) -> Result<(File, u64), FileError> {
        let relative = self.parse(path)?;
        let parent = self.open_parent(&relative, false)?;

        // O_NONBLOCK keeps a FIFO from blocking the open; it has no effect on regular files.
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
        let fd = openat(
            Some(parent.as_raw_fd()),
            relative.name,
            flags,
            Mode::empty(),
        )
        .map_err(|errno| self.final_component_error(&relative, &parent, errno, "opening"))?;
        let file = File::from(owned(fd));

        let metadata = file
            .metadata()
            .map_err(|source| io_error("reading metadata of", path, source))?;
        if !metadata.is_file() {
            return Err(FileError::NotAFile {
                path: path.to_owned(),
            });
        }
        Ok((file, metadata.len()))
    }

    /// Writes `contents` to a temporary file beside the target and renames it
    /// over the target, creating missing parent directories.
    pub fn write(&self, path: &str, contents: &[u8]) -> Result<(), FileError> {
        static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

        let relative = self.parse(path)?;
        let parent = self.open_parent(&relative, true)?;

        match fstatat(
            Some(parent.as_raw_fd()),
            relative.name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(stat) if file_kind(&stat) == SFlag::S_IFDIR => {
                return Err(FileError::NotAFile {
                    path: path.to_owned(),
                });
            }
            _ => {}
        }

        let temp_name = format!(
            ".{}.gopilot-tmp-{}-{}",
            relative.name,
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = openat(
            Some(parent.as_raw_fd()),
            temp_name.as_str(),
            flags,
            Mode::from_bits_truncate(0o644),
        )
        .map_err(|errno| io_error("creating a temporary file for", path, errno.into()))?;
        let mut temp = File::from(owned(fd));

        let written = temp.write_all(contents).and_then(|()| temp.sync_all());
        let renamed = written.and_then(|()| {
            renameat(
                Some(parent.as_raw_fd()),
                temp_name.as_str(),
                Some(parent.as_raw_fd()),
                relative.name,
            )
            .map_err(std::io::Error::from)
        });
        if let Err(source) = renamed {
            let _ = unlinkat(
                Some(parent.as_raw_fd()),
                temp_name.as_str(),
                UnlinkatFlags::NoRemoveDir,
            );
            return Err(io_error("writing", path, source));
        }
        Ok(())
    }

    /// Deletes a file (or a symlink itself, never its target). Directories are rejected.
    pub fn delete(&self, path: &str) -> Result<(), FileError> {
        let relative = self.parse(path)?;
        let parent = self.open_parent(&relative, false)?;

        let stat = fstatat(
            Some(parent.as_raw_fd()),
            relative.name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|errno| self.final_component_error(&relative, &parent, errno, "inspecting"))?;
        if file_kind(&stat) == SFlag::S_IFDIR {
            return Err(FileError::NotAFile {
                path: path.to_owned(),
            });
        }

        unlinkat(
            Some(parent.as_raw_fd()),
            relative.name,
            UnlinkatFlags::NoRemoveDir,
        )
        .map_err(|errno| io_error("deleting", path, errno.into()))
    }

    /// Lists regular files under the root, sorted by path, skipping hidden
    /// names (and everything under a hidden directory) and symlinks.
    pub fn list(&self) -> FileList {
        let walker = walkdir::WalkDir::new(&self.root)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| {
                entry.depth() == 0 || !self.hidden.contains(&*entry.file_name().to_string_lossy())
            });

        let mut files = Vec::new();
        let mut truncated = false;
        for entry in walker {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    tracing::debug!(%error, "skipping unreadable workspace entry");
                    continue;
                }
            };
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            let Ok(relative) = entry.path().strip_prefix(&self.root) else {
                continue;
            };

            if files.len() == MAX_LIST_ENTRIES {
                truncated = true;
                break;
            }
            files.push(FileEntry {
                path: relative.to_string_lossy().into_owned(),
                size: metadata.len(),
                modified: metadata
                    .modified()
                    .map(system_time_rfc3339)
                    .unwrap_or_default(),
            });
        }
        FileList { files, truncated }
    }

    /// Checks the request path's syntax and hidden names.
    fn parse<'a>(&self, path: &'a str) -> Result<RelativePath<'a>, FileError> {
        let invalid = |reason| FileError::InvalidPath {
            path: path.to_owned(),
            reason,
        };
        if path.is_empty() {
            return Err(invalid("the path is empty"));
        }
        if path.contains('\0') {
            return Err(invalid("the path contains a NUL byte"));
        }
        if path.starts_with('/') {
            return Err(invalid(
                "absolute paths are not allowed; give a path relative to the workspace root",
            ));
        }

        let mut components: Vec<&str> = Vec::new();
        for component in path.split('/') {
            match component {
                "" => {
                    return Err(invalid(
                        "the path contains an empty component (`//` or a trailing `/`)",
                    ))
                }
                "." => return Err(invalid("the path contains a `.` component")),
                ".." => return Err(invalid("the path contains a `..` component")),
                name if self.hidden.contains(name) => {
                    return Err(FileError::Hidden {
                        path: path.to_owned(),
                        name: name.to_owned(),
                    })
                }
                name => components.push(name),
            }
        }

        let name = components.pop().unwrap_or_default();
        Ok(RelativePath {
            text: path,
            parents: components,
            name,
        })
    }

    /// Opens the directory that contains the final component, walking from
    /// the root without following symlinks; `create` makes missing directories.
    fn open_parent(&self, relative: &RelativePath<'_>, create: bool) -> Result<OwnedFd, FileError> {
        let path = relative.text;
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let root = nix::fcntl::open(&self.root, flags, Mode::empty())
            .map_err(|errno| io_error("opening the workspace root for", path, errno.into()))?;
        let mut current = owned(root);

        for &component in &relative.parents {
            let mut opened = openat(Some(current.as_raw_fd()), component, flags, Mode::empty());
            if opened == Err(Errno::ENOENT) && create {
                match mkdirat(
                    Some(current.as_raw_fd()),
                    component,
                    Mode::from_bits_truncate(0o755),
                ) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(errno) => {
                        return Err(io_error("creating a directory for", path, errno.into()))
                    }
                }
                opened = openat(Some(current.as_raw_fd()), component, flags, Mode::empty());
            }

            let fd = match opened {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => {
                    return Err(FileError::NotFound {
                        path: path.to_owned(),
                    })
                }
                Err(Errno::ELOOP | Errno::ENOTDIR) => {
                    return Err(if is_symlink(&current, component) {
                        FileError::Symlink {
                            path: path.to_owned(),
                            component: component.to_owned(),
                        }
                    } else {
                        FileError::NotADirectory {
                            path: path.to_owned(),
                            component: component.to_owned(),
                        }
                    })
                }
                Err(errno) => return Err(io_error("opening a directory of", path, errno.into())),
            };
            current = owned(fd);
        }
        Ok(current)
    }

    fn final_component_error(
        &self,
        relative: &RelativePath<'_>,
        parent: &OwnedFd,
        errno: Errno,
        action: &'static str,
    ) -> FileError {
        let path = relative.text.to_owned();
        match errno {
            Errno::ENOENT => FileError::NotFound { path },
            Errno::ELOOP if is_symlink(parent, relative.name) => FileError::Symlink {
                path,
                component: relative.name.to_owned(),
            },
            errno => io_error(action, &path, errno.into()),
        }
    }
}

fn is_symlink(directory: &OwnedFd, name: &str) -> bool {
    fstatat(
        Some(directory.as_raw_fd()),
        name,
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .is_ok_and(|stat| file_kind(&stat) == SFlag::S_IFLNK)
}

fn file_kind(stat: &nix::sys::stat::FileStat) -> SFlag {
    SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT
}

fn owned(fd: std::os::fd::RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open call and has no other owner.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn io_error(action: &'static str, path: &str, source: std::io::Error) -> FileError {
    FileError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(dir: &Path) -> Workspace {
        Workspace::open(dir, &[".env".to_owned(), ".gopilot".to_owned()]).unwrap()
    }

    #[test]
    fn write_read_delete_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = workspace(dir.path());

        workspace.write("notes/today.md", b"hello").unwrap();
        let (mut file, size) = workspace.read("notes/today.md").unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text).unwrap();
        workspace.delete("notes/today.md").unwrap();

        assert_eq!(size, 5);
        assert_eq!(text, "hello");
        assert!(matches!(
            workspace.read("notes/today.md"),
            Err(FileError::NotFound { .. })
        ));
    }

    #[test]
    fn bad_paths_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = workspace(dir.path());

        for path in [
            "",
            "/etc/passwd",
            "a/../b",
            "..",
            "./a",
            "a//b",
            "a/",
            "a\0b",
        ] {
            let result = workspace.write(path, b"x");
            assert!(
                matches!(result, Err(FileError::InvalidPath { .. })),
                "{path:?}: {result:?}"
            );
        }
        for path in [".env", "sub/.gopilot/state"] {
            let result = workspace.write(path, b"x");
            assert!(
                matches!(result, Err(FileError::Hidden { .. })),
                "{path:?}: {result:?}"
            );
        }
    }

    #[test]
    fn symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let workspace = workspace(dir.path());
        std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();

        assert!(matches!(
            workspace.read("escape/secret"),
            Err(FileError::Symlink { .. })
        ));
        assert!(matches!(
            workspace.write("escape/new", b"x"),
            Err(FileError::Symlink { .. })
        ));
        assert!(matches!(
            workspace.read("link"),
            Err(FileError::Symlink { .. })
        ));
        assert!(!outside.path().join("new").exists());
    }

    #[test]
    fn list_skips_hidden_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = workspace(dir.path());
        workspace.write("b.txt", b"bb").unwrap();
        workspace.write("a/c.txt", b"c").unwrap();
        std::fs::write(dir.path().join(".env"), "KEY=1").unwrap();
        std::fs::create_dir(dir.path().join(".gopilot")).unwrap();
        std::fs::write(dir.path().join(".gopilot/state"), "x").unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("etc")).unwrap();

        let list = workspace.list();

        let paths: Vec<&str> = list.files.iter().map(|entry| entry.path.as_str()).collect();
        assert_eq!(paths, ["a/c.txt", "b.txt"]);
        assert_eq!(list.files[1].size, 2);
        assert!(!list.truncated);
    }
}
