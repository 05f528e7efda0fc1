//! Running host tools (runc, ip, nft, nsenter) with typed errors.

use std::ffi::OsStr;
use std::process::Output;
use std::time::Duration;

use tokio::process::Command;

use crate::SandboxError;

/// Upper bound for host tools that should return at once (ip, nft, runc
/// state); a hung tool then surfaces as an error instead of a stuck task.
pub(crate) const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `program args...`, captures its output and fails unless it exits 0.
pub(crate) async fn run<I, S>(program: &OsStr, args: I) -> Result<Output, SandboxError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(program);
    command.args(args);
    run_command(command).await
}

/// Runs a prepared command, captures its output and fails unless it exits 0.
pub(crate) async fn run_command(mut command: Command) -> Result<Output, SandboxError> {
    let output = output_of(&mut command, TOOL_TIMEOUT).await?;
    if output.status.success() {
        return Ok(output);
    }
    Err(command_failed(&command, &output))
}

/// Runs a prepared command and returns its output whatever its exit status.
pub(crate) async fn output_of(
    command: &mut Command,
    timeout: Duration,
) -> Result<Output, SandboxError> {
    command
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    let program = command
        .as_std()
        .get_program()
        .to_string_lossy()
        .into_owned();
    let child = command.output();
    match tokio::time::timeout(timeout, child).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => {
            Err(missing_tool(&program))
        }
        Ok(Err(error)) => Err(SandboxError::io("running", program, error)),
        Err(_) => Err(SandboxError::Timeout {
            what: describe(command),
            timeout,
        }),
    }
}

pub(crate) fn command_failed(command: &Command, output: &Output) -> SandboxError {
    SandboxError::Command {
        command: describe(command),
        status: output.status.to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    }
}

/// Names the Debian package that provides a tool this crate runs.
pub(crate) fn missing_tool(program: &str) -> SandboxError {
    let tool = std::path::Path::new(program)
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| program.to_string());
    let package = match tool.as_str() {
        "ip" => "iproute2",
        "nft" => "nftables",
        "nsenter" => "util-linux",
        other => other,
    }
    .to_string();
    SandboxError::MissingTool { tool, package }
}

/// Renders a command line for error messages. Arguments are joined with
/// spaces as they are; none of the commands here carry secrets.
fn describe(command: &Command) -> String {
    let std_command = command.as_std();
    let mut text = std_command.get_program().to_string_lossy().into_owned();
    for arg in std_command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}
