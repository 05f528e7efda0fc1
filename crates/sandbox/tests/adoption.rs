//! A new backend on the same state directory finds running sandboxes.

mod common;

use std::time::Duration;

use common::TestEnv;
use gopilot_sandbox::runc::RuncBackend;
use gopilot_sandbox::{Backend, SandboxState, VolumeAction};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_backend_adopts_running_sandboxes() {
    let env = TestEnv::new("adopt", 49, vec![]).await;
    let server = "echo ready > /workspace/ready; nc -ll -p 7077 -e /bin/cat";
    for id in ["adopta", "adoptb"] {
        env.backend.create(&env.spec(id, server)).await.unwrap();
        env.backend.start(id).await.unwrap();
    }
    let endpoint_a = env.backend.endpoint("adopta").await.unwrap();

    // A second, independent backend instance, as after a restart of the
    // server process.
    let adopter = RuncBackend::new(env.config.clone()).await.unwrap();
    let listed = adopter.list().await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|info| info.id.as_str()).collect();
    assert_eq!(ids, ["adopta", "adoptb"]);
    for info in &listed {
        assert_eq!(info.state, SandboxState::Running, "{info:?}");
        assert_eq!(
            info.labels.get("agent").map(String::as_str),
            Some(info.id.as_str())
        );
    }
    assert_eq!(adopter.endpoint("adopta").await.unwrap(), endpoint_a);

    // They still respond, over the network and through exec.
    for id in ["adopta", "adoptb"] {
        let ip = adopter.endpoint(id).await.unwrap().ip;
        let mut connected = false;
        for _ in 0..40 {
            if tokio::net::TcpStream::connect((ip, 7077)).await.is_ok() {
                connected = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(connected, "sandbox {id} at {ip}:7077 does not answer");
        let hostname = adopter
            .exec(id, &["hostname".to_string()], Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(hostname.stdout_text().trim(), id);
        assert!(adopter.usage(id).await.unwrap().cpu_usage_ns > 0);
    }

    // The adopter can pause, stop and destroy what the first one started.
    adopter.pause("adopta").await.unwrap();
    assert_eq!(
        env.backend.status("adopta").await.unwrap().state,
        SandboxState::Paused
    );
    adopter
        .stop("adopta", Duration::from_secs(2))
        .await
        .unwrap();
    for id in ["adopta", "adoptb"] {
        adopter.destroy(id, VolumeAction::Remove).await.unwrap();
    }
    assert!(env.backend.list().await.unwrap().is_empty());
    assert!(adopter.cleanup_orphans().await.unwrap().is_empty());
}
