//! Destroy leaves nothing behind: mounts, network namespaces, veth links,
//! cgroups, nftables rules and runtime state are counted before and after.

mod common;

use std::process::Command;

use common::TestEnv;
use gopilot_sandbox::{Backend, VolumeAction};

#[derive(Debug, PartialEq, Eq)]
struct HostCounts {
    mounts: usize,
    netns: usize,
    veths: usize,
    cgroups: usize,
    nft_lines: usize,
    runtime_entries: usize,
    sandbox_dirs: usize,
}

fn lines_of(program: &str, args: &[&str]) -> usize {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(output.status.success(), "{program} {args:?} failed");
    String::from_utf8_lossy(&output.stdout).lines().count()
}

fn entries_in(path: &std::path::Path) -> usize {
    std::fs::read_dir(path)
        .map(|entries| entries.count())
        .unwrap_or(0)
}

fn count(env: &TestEnv) -> HostCounts {
    let state_dir = env.config.state_dir.to_string_lossy().into_owned();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    HostCounts {
        mounts: mountinfo
            .lines()
            .filter(|line| line.contains(&state_dir))
            .count(),
        netns: entries_in(std::path::Path::new("/run/netns")),
        veths: lines_of("ip", &["-o", "link", "show", "type", "veth"]),
        cgroups: lines_of(
            "find",
            &[
                "/sys/fs/cgroup",
                "-maxdepth",
                "8",
                "-type",
                "d",
                "-name",
                "gopilot-*",
            ],
        ),
        nft_lines: lines_of("nft", &["list", "ruleset"]),
        runtime_entries: entries_in(&env.config.state_dir.join("runtime")),
        sandbox_dirs: entries_in(&env.config.state_dir.join("sandboxes")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_leaves_no_leaks() {
    let env = TestEnv::new("leak", 48, vec![]).await;
    let backend = &env.backend;
    let baseline = count(&env);

    backend
        .create(&env.spec("leak0", "sleep 1000000"))
        .await
        .unwrap();
    backend.start("leak0").await.unwrap();
    let running = count(&env);
    assert!(
        running.veths > baseline.veths,
        "no veth while running: {running:?}"
    );
    assert!(
        running.cgroups > baseline.cgroups,
        "no cgroup while running: {running:?}"
    );
    assert!(
        running.mounts > baseline.mounts,
        "no overlay mount while running: {running:?}"
    );
    backend
        .destroy("leak0", VolumeAction::Remove)
        .await
        .unwrap();
    assert_eq!(count(&env), baseline, "one create/start/destroy leaked");

    for round in 0..20 {
        let id = format!("leak{round}");
        backend
            .create(&env.spec(&id, "sleep 1000000"))
            .await
            .unwrap();
        // Every other round also runs and stops the sandbox, so both paths
        // of destroy are covered.
        if round % 2 == 0 {
            backend.start(&id).await.unwrap();
        }
        if round % 4 == 0 {
            backend.pause(&id).await.unwrap();
        }
        backend.destroy(&id, VolumeAction::Remove).await.unwrap();
    }
    assert_eq!(count(&env), baseline, "20 create/destroy cycles leaked");
}
