//! Builds the OpenClaw and Hermes images for real (debootstrap, pip, npm)
//! and starts both runtimes from them. Requires root and the package
//! registries; takes minutes on a cold cache.
//!
//! `GOPILOT_TEST_IMAGE_DIR` names the data directory to build into, so a CI
//! run can share the images with later tests. Without it, a temp directory
//! is used.

mod image_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gopilot_runtimes::image::{
    BuildOptions, ChrootCommand, ImageStore, RuntimeKind, GUEST_PATH_IN_IMAGE, HERMES_VENV,
};
use image_support::fake_provider::{FakeProvider, FAKE_MODEL, FAKE_REPLY};
use image_support::runtime_process::{free_port, RuntimeProcess};
use image_support::{
    built_images, heavy_test_lock, pinned_guest_options, run_in_image, scratch_command,
    RecordingProgress,
};

#[test]
fn images_build_with_runtimes() {
    let _heavy = heavy_test_lock();
    let images = built_images();

    for image in [&images.openclaw, &images.hermes] {
        let manifest = &image.manifest;
        assert_eq!(manifest.id.len(), 64);
        assert!(
            image
                .dir
                .ends_with(format!("{}-{}", manifest.kind, &manifest.id[..12])),
            "{}",
            image.dir.display()
        );
        assert_eq!(manifest.recipe.kind, manifest.kind);
        assert!(
            manifest.created_at.ends_with('Z'),
            "created_at is RFC 3339 UTC: {}",
            manifest.created_at
        );
        assert!(
            manifest.size_bytes > 100_000_000,
            "{} image is only {} bytes",
            manifest.kind,
            manifest.size_bytes
        );
        assert_eq!(manifest.guest_sha256.len(), 64);
        assert!(image
            .rootfs()
            .join(GUEST_PATH_IN_IMAGE.trim_start_matches('/'))
            .is_file());
        assert!(
            manifest.tools.contains_key("debootstrap"),
            "{:?}",
            manifest.tools
        );
    }

    let openclaw = &images.openclaw;
    assert_eq!(openclaw.manifest.runtime_version, "2026.9.6");
    assert_eq!(
        openclaw.manifest.tools.get("openclaw").map(String::as_str),
        Some("2026.9.6")
    );
    let node = run_in_image(
        &openclaw.rootfs(),
        ChrootCommand::new(&openclaw.rootfs(), "node").arg("--version"),
    );
    assert!(node.starts_with("v24."), "node --version printed {node:?}");
    let scratch = tempfile::tempdir().unwrap();
    let version = run_in_image(
        &openclaw.rootfs(),
        scratch_command(&openclaw.rootfs(), "openclaw", scratch.path())
            .arg("--version")
            .env("HOME", "/tmp"),
    );
    assert!(
        version.contains("2026.9.6"),
        "openclaw --version printed {version:?}"
    );

    let schema_path = openclaw
        .schema_path()
        .expect("an OpenClaw image has a schema");
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&schema_path).unwrap()).expect("the schema is JSON");
    assert!(
        schema
            .get("properties")
            .is_some_and(|properties| properties.get("gateway").is_some()),
        "schema lacks properties.gateway"
    );

    let hermes = &images.hermes;
    assert_eq!(hermes.manifest.runtime_version, "0.19.0");
    assert_eq!(
        hermes.manifest.tools.get("hermes").map(String::as_str),
        Some("0.19.0")
    );
    assert!(
        hermes
            .manifest
            .tools
            .get("python")
            .is_some_and(|version| version.starts_with("3.11.")),
        "{:?}",
        hermes.manifest.tools
    );
    assert!(hermes.schema_path().is_none());
    assert!(
        !hermes.rootfs().join("root/.hermes").exists(),
        "the build left a Hermes home in the image"
    );
    // Importing Hermes creates HERMES_HOME, so it points into the scratch /tmp.
    let scratch = tempfile::tempdir().unwrap();
    let python = format!("{HERMES_VENV}/bin/python");
    let imported = run_in_image(
        &hermes.rootfs(),
        scratch_command(&hermes.rootfs(), &python, scratch.path())
            .args([
                "-c",
                "import hermes_cli, run_agent, gateway.run; print('imported')",
            ])
            .env("HOME", "/tmp")
            .env("HERMES_HOME", "/tmp/hermes"),
    );
    assert_eq!(imported.trim(), "imported");
    let version = run_in_image(
        &hermes.rootfs(),
        scratch_command(&hermes.rootfs(), "hermes", scratch.path())
            .arg("--version")
            .env("HOME", "/tmp")
            .env("HERMES_HOME", "/tmp/hermes"),
    );
    assert!(
        version.contains("0.19.0"),
        "hermes --version printed {version:?}"
    );

    let store = ImageStore::open(&images.data_dir).unwrap();
    let listed = store.list().unwrap();
    for kind in RuntimeKind::ALL {
        assert!(
            listed.iter().any(|info| info.kind == kind),
            "list() lacks {kind}: {listed:?}"
        );
    }
    let found = store
        .find(RuntimeKind::Hermes, &pinned_guest_options())
        .unwrap()
        .expect("find() returns the built image");
    assert_eq!(found.id(), hermes.id());
}

#[test]
fn second_build_is_noop() {
    let _heavy = heavy_test_lock();
    let images = built_images();
    let store = ImageStore::open(&images.data_dir).unwrap();

    for image in [&images.openclaw, &images.hermes] {
        let progress = RecordingProgress::default();
        let started = Instant::now();
        let again = store
            .build(image.kind(), &pinned_guest_options(), &progress)
            .unwrap();
        let elapsed = started.elapsed();

        println!(
            "measurement: no-op rebuild of {}: {:.3} s",
            image.kind(),
            elapsed.as_secs_f64()
        );
        assert_eq!(again.id(), image.id());
        assert_eq!(again.manifest.created_at, image.manifest.created_at);
        assert!(
            elapsed < Duration::from_secs(5),
            "no-op build took {elapsed:?}"
        );
        let notes = progress.notes();
        assert!(
            notes.iter().any(|note| note.contains("skipped")),
            "{notes:?}"
        );
        assert!(
            progress.steps().is_empty(),
            "a no-op build ran steps: {:?}",
            progress.steps()
        );
    }
}

#[test]
fn new_guest_reuses_runtime_layer() {
    let _heavy = heavy_test_lock();
    let images = built_images();
    let store = ImageStore::open(&images.data_dir).unwrap();

    // A different guest binary: the real one with one byte appended.
    let dir = tempfile::tempdir().unwrap();
    let guest = dir.path().join("gopilot-guest");
    let mut bytes = std::fs::read(
        images
            .hermes
            .rootfs()
            .join(GUEST_PATH_IN_IMAGE.trim_start_matches('/')),
    )
    .unwrap();
    bytes.push(0);
    std::fs::write(&guest, &bytes).unwrap();
    std::fs::set_permissions(&guest, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let progress = RecordingProgress::default();
    let started = Instant::now();
    let options = BuildOptions {
        guest_binary: Some(guest.clone()),
    };
    let image = store
        .build(RuntimeKind::Hermes, &options, &progress)
        .unwrap();
    println!(
        "measurement: hermes image from cached layer with a new guest: {:.1} s",
        started.elapsed().as_secs_f64()
    );

    assert_ne!(image.id(), images.hermes.id());
    assert_eq!(image.manifest.layer_id, images.hermes.manifest.layer_id);
    let steps = progress.steps();
    assert!(
        !steps
            .iter()
            .any(|step| step == "debootstrap" || step == "pip install hermes"),
        "layer was rebuilt: {steps:?}"
    );
    let copied = std::fs::read(
        image
            .rootfs()
            .join(GUEST_PATH_IN_IMAGE.trim_start_matches('/')),
    )
    .unwrap();
    assert_eq!(copied, bytes);

    // The original image's guest is untouched, so the copy did not write
    // through a hardlink.
    let original = std::fs::read(
        images
            .hermes
            .rootfs()
            .join(GUEST_PATH_IN_IMAGE.trim_start_matches('/')),
    )
    .unwrap();
    assert_eq!(original.len() + 1, copied.len());

    std::fs::remove_dir_all(&image.dir).unwrap();
}

/// Entry point of the child process that `killed_build_leaves_no_image`
/// starts and kills; does nothing unless that test set the variable.
#[test]
fn killed_build_child() {
    let Some(data_dir) = std::env::var_os(KILL_TEST_DIR_ENV) else {
        return;
    };
    let store = ImageStore::open(Path::new(&data_dir)).unwrap();
    // The parent passes the guest binary through GOPILOT_GUEST_BIN.
    store
        .build(
            RuntimeKind::Hermes,
            &BuildOptions::default(),
            &gopilot_runtimes::image::NoProgress,
        )
        .unwrap();
}

const KILL_TEST_DIR_ENV: &str = "GOPILOT_TEST_KILL_BUILD_DIR";

#[test]
fn killed_build_leaves_no_image() {
    let _heavy = heavy_test_lock();
    let data_dir = tempfile::tempdir().unwrap();
    let layers = data_dir.path().join("images/layers");

    let guest = pinned_guest_options().guest_binary.unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "killed_build_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(KILL_TEST_DIR_ENV, data_dir.path())
        .env("GOPILOT_GUEST_BIN", &guest)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // Kill it a few seconds into debootstrap.
    let deadline = Instant::now() + Duration::from_secs(60);
    while image_support::temp_dirs(&layers).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the child build created no temp directory"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(5));
    child.kill().unwrap();
    child.wait().unwrap();
    image_support::wait_for_no_process_using(data_dir.path());

    let store = ImageStore::open(data_dir.path()).unwrap();
    assert!(
        store.list().unwrap().is_empty(),
        "a killed build left a listed image"
    );
    assert!(store
        .find(RuntimeKind::Hermes, &pinned_guest_options())
        .unwrap()
        .is_none());
    assert!(
        !image_support::temp_dirs(&layers).is_empty(),
        "the killed build's temp dir is expected to remain until the next build"
    );

    let progress = RecordingProgress::default();
    let started = Instant::now();
    let image = store
        .build(RuntimeKind::Hermes, &pinned_guest_options(), &progress)
        .unwrap();
    println!(
        "measurement: cold build of hermes image: {:.1} s, {} MB",
        started.elapsed().as_secs_f64(),
        image.manifest.size_bytes / 1_000_000
    );
    assert!(image
        .rootfs()
        .join(GUEST_PATH_IN_IMAGE.trim_start_matches('/'))
        .is_file());
    assert!(
        image_support::temp_dirs(&layers).is_empty(),
        "the next build left the stale temp dir"
    );
    assert!(image_support::temp_dirs(&data_dir.path().join("images")).is_empty());
    assert_eq!(store.list().unwrap().len(), 1);
}

const OPENCLAW_READY_TIMEOUT: Duration = Duration::from_secs(120);
const HERMES_READY_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn openclaw_from_image_answers_chat() {
    let _heavy = heavy_test_lock();
    let images = built_images();
    let provider = FakeProvider::start();
    let port = free_port();
    let token = "test-gateway-token-0123456789abcdef";

    // The state lives in the scratch directory mounted at /tmp, not in the
    // cached image.
    let scratch = tempfile::tempdir().unwrap();
    let tmp = scratch.path().join("tmp");
    std::fs::create_dir_all(tmp.join("home")).unwrap();
    std::fs::create_dir_all(tmp.join("state")).unwrap();
    let config = serde_json::json!({
        "gateway": {
            "mode": "local",
            "port": port,
            "bind": "loopback",
            "auth": { "mode": "token", "token": token },
            "http": { "endpoints": { "chatCompletions": { "enabled": true } } }
        },
        "models": {
            "providers": {
                "fake": {
                    "baseUrl": provider.base_url(),
                    "apiKey": "fake-provider-key",
                    "api": "openai-completions",
                    "models": [{ "id": FAKE_MODEL, "name": "Fake model" }]
                }
            }
        },
        "agents": { "defaults": { "model": { "primary": format!("fake/{FAKE_MODEL}") } } }
    });
    std::fs::write(
        tmp.join("state/openclaw.json"),
        serde_json::to_string_pretty(&config).unwrap(),
    )
    .unwrap();

    let rootfs = images.openclaw.rootfs();
    let command = scratch_command(&rootfs, "openclaw", scratch.path())
        .args(["gateway", "--port", &port.to_string()])
        .env("HOME", "/tmp/home")
        .env("OPENCLAW_STATE_DIR", "/tmp/state");
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut gateway = RuntimeProcess::spawn(command, log.path());

    let ready_after = gateway.wait_ready(
        &format!("http://127.0.0.1:{port}/readyz"),
        OPENCLAW_READY_TIMEOUT,
        |status, body| {
            status == 200
                && serde_json::from_str::<serde_json::Value>(body)
                    .is_ok_and(|value| value["ready"] == true)
        },
    );
    println!(
        "measurement: OpenClaw ready after {:.1} s",
        ready_after.as_secs_f64()
    );

    let reply = chat(port, token, "openclaw/default");
    assert!(
        reply.contains(FAKE_REPLY),
        "OpenClaw replied {reply:?}; log:\n{}",
        gateway.log_tail()
    );
    assert!(provider.chat_requests() >= 1);
}

#[test]
fn hermes_from_image_answers_chat() {
    let _heavy = heavy_test_lock();
    let images = built_images();
    let provider = FakeProvider::start();
    let port = free_port();
    let key = "test-api-server-key-0123456789abcdef";

    let scratch = tempfile::tempdir().unwrap();
    let hermes_home = scratch.path().join("tmp/hermes");
    std::fs::create_dir_all(&hermes_home).unwrap();
    let config = format!(
        "model:\n  provider: custom\n  default: {FAKE_MODEL}\n  base_url: {}\n  api_key: fake-provider-key\n",
        provider.base_url()
    );
    std::fs::write(hermes_home.join("config.yaml"), config).unwrap();
    let env = format!("API_SERVER_ENABLED=true\nAPI_SERVER_HOST=127.0.0.1\nAPI_SERVER_PORT={port}\nAPI_SERVER_KEY={key}\n");
    std::fs::write(hermes_home.join(".env"), env).unwrap();

    let rootfs = images.hermes.rootfs();
    let command = scratch_command(&rootfs, "hermes", scratch.path())
        .args(["gateway", "run"])
        .env("HOME", "/tmp")
        .env("HERMES_HOME", "/tmp/hermes");
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut gateway = RuntimeProcess::spawn(command, log.path());

    let ready_after = gateway.wait_ready(
        &format!("http://127.0.0.1:{port}/health"),
        HERMES_READY_TIMEOUT,
        |status, body| status == 200 && body.contains("ok"),
    );
    println!(
        "measurement: Hermes ready after {:.1} s",
        ready_after.as_secs_f64()
    );

    let reply = chat(port, key, FAKE_MODEL);
    assert!(
        reply.contains(FAKE_REPLY),
        "Hermes replied {reply:?}; log:\n{}",
        gateway.log_tail()
    );
    assert!(provider.chat_requests() >= 1);
    assert!(
        !rootfs.join("root/.hermes").exists(),
        "Hermes wrote its home into the image"
    );
}

/// Sends one non-streaming chat completion and returns the reply text.
fn chat(port: u16, bearer: &str, model: &str) -> String {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let response = client
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth(bearer)
        .json(&serde_json::json!({
            "model": model,
            "messages": [{ "role": "user", "content": "Say something." }]
        }))
        .send()
        .expect("send chat request");
    let status = response.status();
    let body: serde_json::Value = response.json().expect("chat response is JSON");
    assert!(status.is_success(), "chat returned {status}: {body}");
    body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn openclaw_channel_plugins_load() {
    let _heavy = heavy_test_lock();
    let images = built_images();

    // OpenClaw rejects hardlinked plugin files, so the plugins are loaded
    // from a real copy of the image, as a sandbox's own copy would be.
    let copy = tempfile::tempdir().unwrap();
    let rootfs = copy.path().join("rootfs");
    let status = Command::new("cp")
        .arg("-a")
        .arg(images.openclaw.rootfs())
        .arg(&rootfs)
        .status()
        .unwrap();
    assert!(status.success(), "cp -a of the OpenClaw rootfs failed");

    let scratch = tempfile::tempdir().unwrap();
    let state = scratch.path().join("tmp/state");
    std::fs::create_dir_all(&state).unwrap();
    let plugins = ["discord", "slack", "whatsapp"];
    let paths: Vec<String> = plugins
        .iter()
        .map(|name| format!("/opt/openclaw/node_modules/@openclaw/{name}"))
        .collect();
    let config = serde_json::json!({ "gateway": { "mode": "local" }, "plugins": { "load": { "paths": paths } } });
    std::fs::write(state.join("openclaw.json"), config.to_string()).unwrap();

    for plugin in plugins {
        let output = run_in_image(
            &rootfs,
            scratch_command(&rootfs, "openclaw", scratch.path())
                .args(["plugins", "inspect", plugin])
                .env("HOME", "/tmp")
                .env("OPENCLAW_STATE_DIR", "/tmp/state"),
        );
        assert!(
            output.contains("Status: enabled"),
            "plugin {plugin} is not enabled:\n{output}"
        );
        assert!(
            output.contains(&format!("channel: {plugin}")),
            "plugin {plugin} provides no channel:\n{output}"
        );
    }
}
