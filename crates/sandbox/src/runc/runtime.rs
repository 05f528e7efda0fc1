//! The OCI runtime command line (runc, or gVisor's runsc, which accepts the
//! same commands), with its state kept under GoPilot's own `--root`.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Command;

use super::command::{command_failed, output_of, run_command, TOOL_TIMEOUT};
use crate::{ExecOutput, SandboxError};

/// Which OCI runtime the backend drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeKind {
    Runc,
    /// gVisor: `stop` checkpoints memory and `start` restores it.
    /// TODO: no test covers this path yet. Debian's `runsc` package
    /// (build 20221219) installs here, and its user namespace handling
    /// with this bundle is unverified.
    Runsc,
}

/// Container status as `runc state` prints it.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ContainerState {
    /// "created", "running", "paused" or "stopped".
    pub status: String,
    pub pid: i64,
}

#[derive(Clone, Debug)]
pub(crate) struct OciRuntime {
    pub kind: RuntimeKind,
    binary: PathBuf,
    root: PathBuf,
}

impl OciRuntime {
    pub fn new(kind: RuntimeKind, binary: PathBuf, root: PathBuf) -> Self {
        OciRuntime { kind, binary, root }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command.arg("--root").arg(&self.root);
        command
    }

    /// Like `command`, with the runtime's own log in `runtime_log`.
    fn logged_command(&self, runtime_log: &Path) -> Command {
        let mut command = self.command();
        command
            .arg("--log")
            .arg(runtime_log)
            .arg("--log-format")
            .arg("json");
        command
    }

    /// Returns the container's state, or `None` when the runtime has no
    /// container with this id.
    pub async fn state(&self, id: &str) -> Result<Option<ContainerState>, SandboxError> {
        let mut command = self.command();
        command.arg("state").arg(id);
        let output = output_of(&mut command, TOOL_TIMEOUT).await?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if stderr.contains("does not exist") || stderr.contains("not found") {
                return Ok(None);
            }
            return Err(command_failed(&command, &output));
        }
        serde_json::from_slice(&output.stdout)
            .map(Some)
            .map_err(|source| SandboxError::Json {
                path: self.root.join(id),
                source,
            })
    }

    /// Creates the container from `bundle` without starting its process.
    /// The process's stdout and stderr are appended to `console_log`.
    pub async fn create(
        &self,
        id: &str,
        bundle: &Path,
        console_log: &Path,
        runtime_log: &Path,
    ) -> Result<(), SandboxError> {
        let mut command = self.logged_command(runtime_log);
        command.arg("create").arg("--bundle").arg(bundle).arg(id);
        self.run_with_console(command, console_log, runtime_log)
            .await
    }

    /// Creates and starts the container from a checkpoint image (runsc).
    pub async fn restore(
        &self,
        id: &str,
        bundle: &Path,
        image_path: &Path,
        console_log: &Path,
        runtime_log: &Path,
    ) -> Result<(), SandboxError> {
        let mut command = self.logged_command(runtime_log);
        command
            .arg("restore")
            .arg("--detach")
            .arg("--bundle")
            .arg(bundle)
            .arg("--image-path")
            .arg(image_path)
            .arg(id);
        self.run_with_console(command, console_log, runtime_log)
            .await
    }

    /// Runs a command whose stdio the container inherits. The runtime's
    /// stdout and stderr go to the console log rather than to pipes, because
    /// the container keeps them open and a pipe would never reach EOF.
    async fn run_with_console(
        &self,
        mut command: Command,
        console_log: &Path,
        runtime_log: &Path,
    ) -> Result<(), SandboxError> {
        let console = OpenOptions::new()
            .create(true)
            .append(true)
            .open(console_log)
            .map_err(|e| SandboxError::io("opening", console_log, e))?;
        let console_err = console
            .try_clone()
            .map_err(|e| SandboxError::io("opening", console_log, e))?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(console))
            .stderr(Stdio::from(console_err))
            .kill_on_drop(true);

        let status = match tokio::time::timeout(TOOL_TIMEOUT, command.status()).await {
            Ok(Ok(status)) => status,
            Ok(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(super::command::missing_tool(&self.binary.to_string_lossy()))
            }
            Ok(Err(error)) => return Err(SandboxError::io("running", &self.binary, error)),
            Err(_) => {
                return Err(SandboxError::Timeout {
                    what: format!("{} for {}", self.binary.display(), console_log.display()),
                    timeout: TOOL_TIMEOUT,
                })
            }
        };
        if status.success() {
            return Ok(());
        }
        Err(SandboxError::Command {
            command: format!("{:?}", command.as_std()),
            status: status.to_string(),
            stderr: last_error_in_log(runtime_log),
        })
    }

    pub async fn start(&self, id: &str) -> Result<(), SandboxError> {
        self.simple(&["start", id]).await
    }

    pub async fn pause(&self, id: &str) -> Result<(), SandboxError> {
        self.simple(&["pause", id]).await
    }

    pub async fn resume(&self, id: &str) -> Result<(), SandboxError> {
        self.simple(&["resume", id]).await
    }

    /// Sends `signal` ("TERM", "KILL") to the init process, or to every
    /// process of the container when `all` is set.
    pub async fn kill(&self, id: &str, signal: &str, all: bool) -> Result<(), SandboxError> {
        if all {
            self.simple(&["kill", "--all", id, signal]).await
        } else {
            self.simple(&["kill", id, signal]).await
        }
    }

    /// Deletes the container, killing what still runs in it.
    pub async fn delete(&self, id: &str) -> Result<(), SandboxError> {
        self.simple(&["delete", "--force", id]).await
    }

    /// Writes the container's memory to `image_path` and stops it (runsc).
    pub async fn checkpoint(&self, id: &str, image_path: &Path) -> Result<(), SandboxError> {
        let mut command = self.command();
        command
            .arg("checkpoint")
            .arg("--image-path")
            .arg(image_path)
            .arg(id);
        run_command(command).await.map(|_| ())
    }

    /// Runs `argv` in the container as the spec's user and environment.
    pub async fn exec(
        &self,
        id: &str,
        argv: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, SandboxError> {
        let mut command = self.command();
        command.arg("exec").arg(id).args(argv);
        let output = output_of(&mut command, timeout).await?;

        // 128 + signal number, as shells report it.
        let exit_code = match output.status.code() {
            Some(code) => code,
            None => {
                use std::os::unix::process::ExitStatusExt;
                128 + output.status.signal().unwrap_or(0)
            }
        };
        Ok(ExecOutput {
            exit_code,
            stdout: output.stdout,
            stderr: output.stderr,
        })
    }

    async fn simple(&self, args: &[&str]) -> Result<(), SandboxError> {
        let mut command = self.command();
        command.args(args);
        run_command(command).await.map(|_| ())
    }
}

/// Returns the last error message of a runtime log written with
/// `--log-format json`, or a hint to read the file.
fn last_error_in_log(runtime_log: &Path) -> String {
    #[derive(Deserialize)]
    struct LogLine {
        level: String,
        msg: String,
    }

    let text = std::fs::read_to_string(runtime_log).unwrap_or_default();
    let last_error = text
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<LogLine>(line).ok())
        .find(|line| line.level == "error");
    match last_error {
        Some(line) => line.msg,
        None => format!("no error logged; see {}", runtime_log.display()),
    }
}
