//! Runs the external tools of a build and turns their failures into
//! [`ImageError`]s that carry the tail of the tool's output.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use super::error::ImageError;
use super::step::Step;

/// Lines of a failed tool's output that an error keeps.
const OUTPUT_TAIL_LINES: usize = 30;

/// Runs `command` to completion with stdin closed and returns its stdout.
///
/// The child gets SIGKILL when the calling thread exits, so a killed build
/// leaves no tool writing into its temp directory. Callers must therefore
/// run this on a thread that outlives the command, as the build does.
pub(crate) fn run_tool(step: Step, command: &mut Command) -> Result<String, ImageError> {
    let program = describe(command);
    tracing::debug!(step = step.as_str(), command = %program, "running tool");

    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no
    // memory of the parent.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }

    let output = command.output().map_err(|source| ImageError::Spawn {
        step,
        program: program.clone(),
        source,
    })?;

    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }

    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut combined = stdout;
    combined.push_str(&stderr);
    Err(ImageError::ToolFailed {
        step,
        program,
        status: output.status.to_string(),
        output_tail: tail_lines(&combined, OUTPUT_TAIL_LINES),
    })
}

/// Returns the last `count` lines of `text`.
pub(crate) fn tail_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(count);
    lines[start..].join("\n")
}

/// Returns the program and its arguments for messages. Environment values are
/// left out because they may carry credentials, for example in index URLs,
/// and multi-line arguments (inline shell scripts) are shown as `<script>`.
fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        let arg = arg.to_string_lossy();
        text.push(' ');
        text.push_str(if arg.contains('\n') { "<script>" } else { &arg });
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_lines("a", 5), "a");
        assert_eq!(tail_lines("", 5), "");
    }

    #[test]
    fn failed_tool_reports_output_tail() {
        let error = run_tool(
            Step::Finalize,
            Command::new("sh").args(["-c", "echo first; echo last >&2; exit 3"]),
        )
        .expect_err("exit 3 is a failure");
        let message = error.to_string();
        assert!(message.contains("step `finalize` failed"), "{message}");
        assert!(message.contains("exit status: 3"), "{message}");
        assert!(message.contains("first\nlast"), "{message}");
    }

    #[test]
    fn inline_script_is_not_repeated_in_errors() {
        let error = run_tool(
            Step::Finalize,
            Command::new("sh").args(["-c", "echo one\nexit 4", "name"]),
        )
        .expect_err("exit 4 is a failure");
        let message = error.to_string();
        assert!(message.contains("sh -c <script> name exited"), "{message}");
    }

    #[test]
    fn missing_program_is_spawn_error() {
        let error = run_tool(Step::Finalize, &mut Command::new("/nonexistent/tool"))
            .expect_err("program is missing");
        assert!(matches!(error, ImageError::Spawn { .. }), "{error}");
    }
}
