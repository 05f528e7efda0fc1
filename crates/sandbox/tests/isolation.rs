//! Isolation between sandboxes and from the host, checked from inside.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::TestEnv;
use gopilot_sandbox::{Backend, VolumeAction};

/// Accepts connections on `listener` and counts them.
fn count_connections(listener: tokio::net::TcpListener) -> Arc<AtomicUsize> {
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    accepted
}

/// Shell snippet that connects to `ip:port` and exits 0 only on success.
fn connect_script(ip: &str, port: u16) -> String {
    format!("timeout 3 nc -w 2 {ip} {port} </dev/null")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_network_files_privileges() {
    // The bridge address exists only once the backend has made the bridge,
    // and the allowed port must be known before that, so a free port is
    // reserved on loopback first and reused on the bridge address.
    let allowed_port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let env = TestEnv::new("iso", 44, vec![allowed_port]).await;
    let backend = &env.backend;
    let host_ip = backend.host_ip();

    let allowed = tokio::net::TcpListener::bind((host_ip, allowed_port))
        .await
        .unwrap();
    let blocked = tokio::net::TcpListener::bind((host_ip, 0)).await.unwrap();
    let blocked_port = blocked.local_addr().unwrap().port();
    let allowed_count = count_connections(allowed);
    let blocked_count = count_connections(blocked);

    backend
        .create(&env.spec("isoa", "sleep 1000000"))
        .await
        .unwrap();
    backend
        .create(&env.spec(
            "isob",
            "echo secret > /root/secret; nc -ll -p 8080 -e /bin/cat",
        ))
        .await
        .unwrap();
    backend.start("isoa").await.unwrap();
    backend.start("isob").await.unwrap();
    let ip_b = backend.endpoint("isob").await.unwrap().ip;
    let ip_a = backend.endpoint("isoa").await.unwrap().ip;
    assert_ne!(ip_a, ip_b);

    // B listens: the host reaches it, so a failure from A is isolation.
    let mut reached = false;
    for _ in 0..40 {
        if tokio::net::TcpStream::connect((ip_b, 8080)).await.is_ok() {
            reached = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        reached,
        "host could not connect to sandbox B at {ip_b}:8080"
    );

    let a_to_b = env
        .sh("isoa", &connect_script(&ip_b.to_string(), 8080))
        .await;
    assert!(
        !a_to_b.success(),
        "sandbox A connected to sandbox B: {}",
        a_to_b.stdout_text()
    );

    let a_to_blocked = env
        .sh("isoa", &connect_script(&host_ip.to_string(), blocked_port))
        .await;
    assert!(
        !a_to_blocked.success(),
        "sandbox A reached a host port that is not allow-listed"
    );
    assert_eq!(blocked_count.load(Ordering::SeqCst), 0);

    let a_to_allowed = env
        .sh("isoa", &connect_script(&host_ip.to_string(), allowed_port))
        .await;
    assert!(
        a_to_allowed.success(),
        "sandbox A could not reach the allow-listed host port: {}",
        a_to_allowed.stderr_text()
    );
    assert_eq!(allowed_count.load(Ordering::SeqCst), 1);

    // Files: B's root filesystem and volume are not visible from A.
    assert!(env.sh("isob", "cat /root/secret").await.success());
    assert!(!env.sh("isoa", "cat /root/secret").await.success());
    let volume_b = env.volume("isob");
    let listing = env.sh("isoa", &format!("ls {}", volume_b.display())).await;
    assert!(
        !listing.success(),
        "sandbox A sees the host path of B's volume"
    );
    let processes = env.sh("isoa", "ps -o pid,args").await.stdout_text();
    assert!(
        !processes.contains("nc -ll"),
        "sandbox A sees B's processes: {processes}"
    );

    // Privileges: root inside is uid 100000 outside, with no host powers.
    let uid_map = env.sh("isoa", "cat /proc/self/uid_map").await.stdout_text();
    let fields: Vec<&str> = uid_map.split_whitespace().collect();
    assert_eq!(fields, ["0", "100000", "65536"]);
    assert!(
        !env.sh("isoa", "mount -t tmpfs none /mnt").await.success(),
        "mount succeeded"
    );
    assert!(
        !env.sh("isoa", "echo 1 > /proc/sys/kernel/sysrq")
            .await
            .success(),
        "write to /proc/sys succeeded"
    );
    let insmod = env.sh("isoa", "echo x > /tmp/m.ko; insmod /tmp/m.ko").await;
    assert!(!insmod.success(), "insmod succeeded");
    assert!(
        !env.sh("isoa", "reboot -f").await.success(),
        "reboot succeeded"
    );
    assert!(
        !env.sh("isoa", "unshare -U true").await.success(),
        "unshare succeeded"
    );
    let capabilities = env
        .sh("isoa", "grep CapEff /proc/self/status")
        .await
        .stdout_text();
    let effective =
        u64::from_str_radix(capabilities.split_whitespace().nth(1).unwrap(), 16).unwrap();
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    const CAP_NET_ADMIN: u64 = 1 << 12;
    assert_eq!(
        effective & (CAP_SYS_ADMIN | CAP_NET_ADMIN),
        0,
        "CapEff {effective:x}"
    );
    let no_new_privs = env
        .sh("isoa", "grep NoNewPrivs /proc/self/status")
        .await
        .stdout_text();
    assert!(no_new_privs.contains('1'), "{no_new_privs}");
    let seccomp = env
        .sh("isoa", "grep '^Seccomp:' /proc/self/status")
        .await
        .stdout_text();
    assert!(
        seccomp.contains('2'),
        "seccomp filter not active: {seccomp}"
    );

    for id in ["isoa", "isob"] {
        backend.destroy(id, VolumeAction::Remove).await.unwrap();
    }
}
