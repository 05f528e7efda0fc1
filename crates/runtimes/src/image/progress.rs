use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::error::ImageError;
use super::step::Step;

/// Receives the start and end of each build step, and notes such as
/// "image exists, skipped".
pub trait Progress: Send + Sync {
    fn step_started(&self, image: &str, step: Step);
    fn step_finished(&self, image: &str, step: Step, elapsed: Duration, succeeded: bool);
    fn note(&self, image: &str, message: &str);
}

/// Ignores all progress.
pub struct NoProgress;

impl Progress for NoProgress {
    fn step_started(&self, _: &str, _: Step) {}
    fn step_finished(&self, _: &str, _: Step, _: Duration, _: bool) {}
    fn note(&self, _: &str, _: &str) {}
}

/// Shows progress on stderr: a spinner with the step's name and elapsed time
/// when stderr is a terminal, else one plain line per step start and end.
pub struct TerminalProgress {
    spinner: Mutex<Option<ProgressBar>>,
    interactive: bool,
}

impl TerminalProgress {
    pub fn new() -> Self {
        TerminalProgress {
            spinner: Mutex::new(None),
            interactive: std::io::stderr().is_terminal(),
        }
    }

    fn print_line(line: &str) {
        let mut stderr = std::io::stderr().lock();
        // A failed write to stderr has nowhere to be reported.
        let _ = writeln!(stderr, "{line}");
    }
}

impl Default for TerminalProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for TerminalProgress {
    fn step_started(&self, image: &str, step: Step) {
        if !self.interactive {
            Self::print_line(&format!("{image}: {step}: started"));
            return;
        }

        let spinner = ProgressBar::new_spinner();
        spinner.set_style(
            ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]")
                .expect("the spinner template is valid"),
        );
        spinner.set_prefix(image.to_string());
        spinner.set_message(step.as_str());
        spinner.enable_steady_tick(Duration::from_millis(120));
        *self.spinner.lock().expect("progress lock poisoned") = Some(spinner);
    }

    fn step_finished(&self, image: &str, step: Step, elapsed: Duration, succeeded: bool) {
        let outcome = if succeeded { "done" } else { "failed" };
        let line = format!(
            "{image}: {step}: {outcome} in {:.1} s",
            elapsed.as_secs_f64()
        );
        match self.spinner.lock().expect("progress lock poisoned").take() {
            Some(spinner) => spinner.finish_with_message(format!(
                "{step}: {outcome} in {:.1} s",
                elapsed.as_secs_f64()
            )),
            None => Self::print_line(&line),
        }
    }

    fn note(&self, image: &str, message: &str) {
        Self::print_line(&format!("{image}: {message}"));
    }
}

/// Runs `work` as the build step `step`: reports its start and end to
/// `progress` and to `tracing`, with the elapsed time.
pub(crate) fn run_step<T>(
    progress: &dyn Progress,
    image: &str,
    step: Step,
    work: impl FnOnce() -> Result<T, ImageError>,
) -> Result<T, ImageError> {
    tracing::info!(image, step = step.as_str(), "image build step started");
    progress.step_started(image, step);
    let started = Instant::now();

    let result = work();

    let elapsed = started.elapsed();
    progress.step_finished(image, step, elapsed, result.is_ok());
    match &result {
        Ok(_) => tracing::info!(
            image,
            step = step.as_str(),
            elapsed_ms = elapsed.as_millis() as u64,
            "image build step finished"
        ),
        Err(error) => {
            tracing::warn!(image, step = step.as_str(), elapsed_ms = elapsed.as_millis() as u64, %error, "image build step failed")
        }
    }
    result
}
