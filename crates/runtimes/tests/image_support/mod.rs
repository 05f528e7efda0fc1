//! Shared helpers of the image tests: one build of both images per test
//! binary, a progress recorder, commands inside images, and a fake
//! OpenAI-compatible provider.

#![allow(dead_code)]

pub mod fake_provider;
pub mod runtime_process;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use gopilot_runtimes::image::{
    BuildOptions, ChrootCommand, Image, ImageStore, Progress, RuntimeKind, Step, TerminalProgress,
};

/// Both images, built once per test binary.
pub struct BuiltImages {
    pub data_dir: PathBuf,
    pub openclaw: Image,
    pub hermes: Image,
}

/// Serializes the tests that build images or start runtimes, because each
/// of them needs most of a 2-core machine.
pub fn heavy_test_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Returns the data directory: `GOPILOT_TEST_IMAGE_DIR`, else a temp
/// directory that lives as long as the test binary.
fn data_dir() -> PathBuf {
    static TEMP: OnceLock<tempfile::TempDir> = OnceLock::new();
    match std::env::var_os("GOPILOT_TEST_IMAGE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => TEMP
            .get_or_init(|| tempfile::tempdir().expect("create temp data dir"))
            .path()
            .to_path_buf(),
    }
}

/// Builds `gopilot-guest` with cargo when no binary is found, so the tests
/// run from a clean checkout.
pub fn ensure_guest_binary() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        if gopilot_runtimes::image::locate_guest_binary(None).is_ok() {
            return;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let status = Command::new(cargo)
            .args(["build", "-p", "gopilot-guest"])
            .status()
            .expect("run cargo");
        assert!(status.success(), "cargo build -p gopilot-guest failed");
    });
}

/// Returns build options whose guest binary is a copy taken once per test
/// binary, so a `cargo build` of the guest during the run does not change
/// the image ids the tests expect.
pub fn pinned_guest_options() -> BuildOptions {
    static PINNED: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = PINNED.get_or_init(|| {
        ensure_guest_binary();
        let source =
            gopilot_runtimes::image::locate_guest_binary(None).expect("locate gopilot-guest");
        let dir = tempfile::tempdir().expect("create temp dir for the guest copy");
        let path = dir.path().join("gopilot-guest");
        std::fs::copy(&source, &path).expect("copy gopilot-guest");
        (dir, path)
    });
    BuildOptions {
        guest_binary: Some(path.clone()),
    }
}

/// Builds (or reuses) both images in the test data directory and prints the
/// time each took.
pub fn built_images() -> &'static BuiltImages {
    static IMAGES: OnceLock<BuiltImages> = OnceLock::new();
    IMAGES.get_or_init(|| {
        ensure_guest_binary();
        let data_dir = data_dir();
        let store = ImageStore::open(&data_dir).expect("open image store");
        let progress = TerminalProgress::new();

        let build = |kind: RuntimeKind| {
            let started = Instant::now();
            let image = store
                .build(kind, &pinned_guest_options(), &progress)
                .unwrap_or_else(|error| panic!("building the {kind} image failed: {error}"));
            println!(
                "measurement: build of {kind} image: {:.1} s, {} MB (cold unless the data dir had it)",
                started.elapsed().as_secs_f64(),
                image.manifest.size_bytes / 1_000_000
            );
            image
        };
        let openclaw = build(RuntimeKind::Openclaw);
        let hermes = build(RuntimeKind::Hermes);
        BuiltImages { data_dir, openclaw, hermes }
    })
}

/// Runs `command` inside an image and returns its stdout; panics with the
/// output when it fails.
pub fn run_in_image(rootfs: &Path, command: ChrootCommand) -> String {
    let output = command
        .into_command()
        .stdin(Stdio::null())
        .output()
        .expect("start chroot command");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "command in {} failed with {}:\n{stdout}\n{}",
        rootfs.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Returns a command in `rootfs` whose /tmp and /var/tmp are directories
/// under `scratch` on the host, so files the runtime writes there stay out
/// of the cached image. Other paths still write into the image.
pub fn scratch_command(rootfs: &Path, program: &str, scratch: &Path) -> ChrootCommand {
    let tmp = scratch.join("tmp");
    let var_tmp = scratch.join("var-tmp");
    std::fs::create_dir_all(&tmp).expect("create scratch /tmp");
    std::fs::create_dir_all(&var_tmp).expect("create scratch /var/tmp");
    ChrootCommand::new(rootfs, program)
        .bind(&tmp, "/tmp")
        .bind(&var_tmp, "/var/tmp")
}

/// Returns the build temp directories (`.tmp-*`) directly under `dir`.
pub fn temp_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(".tmp-"))
        })
        .collect()
}

/// Waits until no process has its command line or working directory under
/// `dir`, so a killed build's tools are gone.
pub fn wait_for_no_process_using(dir: &Path) {
    let needle = dir.to_string_lossy().into_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let users: Vec<String> = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| entry.ok())
            .filter(|entry| {
                entry
                    .file_name()
                    .to_string_lossy()
                    .chars()
                    .all(|c| c.is_ascii_digit())
            })
            .filter(|entry| {
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let cwd = std::fs::read_link(entry.path().join("cwd")).unwrap_or_default();
                String::from_utf8_lossy(&cmdline).contains(&needle) || cwd.starts_with(dir)
            })
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        if users.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes still use {}: {users:?}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Records the steps and notes of a build.
#[derive(Default)]
pub struct RecordingProgress {
    steps: Mutex<Vec<String>>,
    notes: Mutex<Vec<String>>,
}

impl RecordingProgress {
    pub fn steps(&self) -> Vec<String> {
        self.steps.lock().unwrap().clone()
    }

    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap().clone()
    }
}

impl Progress for RecordingProgress {
    fn step_started(&self, _image: &str, step: Step) {
        self.steps.lock().unwrap().push(step.as_str().to_string());
    }

    fn step_finished(&self, _image: &str, _step: Step, _elapsed: Duration, _succeeded: bool) {}

    fn note(&self, image: &str, message: &str) {
        println!("{image}: {message}");
        self.notes.lock().unwrap().push(message.to_string());
    }
}
