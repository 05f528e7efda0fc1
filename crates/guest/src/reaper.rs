//! Collection of every exited child, as PID 1 (or child subreaper) must do.
//!
//! One task calls `waitpid(-1)` for all children, so nothing else in the
//! process may wait for a child itself. The supervisor spawns through
//! [`Reaper::spawn`] and learns of the exit through [`Reaper::wait`].
//! Children that were not registered, such as orphans re-parented to PID 1,
//! are reaped and forgotten.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;

/// Polling period that backs up SIGCHLD, since several SIGCHLDs can merge into one.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Exit of a child process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessExit {
    Code(i32),
    Signal(Signal),
}

impl std::fmt::Display for ProcessExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProcessExit::Code(code) => write!(f, "exit code {code}"),
            ProcessExit::Signal(signal) => write!(f, "signal {}", signal.as_str()),
        }
    }
}

#[derive(Default)]
struct Children {
    /// PIDs whose exit someone will ask for.
    watched: HashSet<i32>,
    /// Exits of watched PIDs, kept until [`Reaper::wait`] takes them.
    exits: HashMap<i32, ProcessExit>,
}

/// Reaps all children and hands the exits of registered ones to their waiters.
#[derive(Default)]
pub struct Reaper {
    children: Mutex<Children>,
    exited: Notify,
}

impl Reaper {
    /// Creates the reaper and starts its task. Call it before spawning any child.
    pub fn start() -> std::io::Result<Arc<Self>> {
        let reaper = Arc::new(Self::default());
        let mut sigchld = signal(SignalKind::child())?;

        let task_reaper = reaper.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = sigchld.recv() => {}
                    _ = tokio::time::sleep(POLL_INTERVAL) => {}
                }
                task_reaper.reap_exited();
            }
        });
        Ok(reaper)
    }

    /// Spawns `command` and registers its PID before the reaper can collect it.
    pub fn spawn(&self, command: &mut Command) -> std::io::Result<Child> {
        // Holding the lock across the spawn makes `reap_exited` wait until the
        // PID is registered, so an instant exit is not discarded as an orphan.
        let mut children = self.lock();
        let child = command.spawn()?;
        children.watched.insert(child.id() as i32);
        Ok(child)
    }

    /// Waits until the registered child `pid` exits and returns how it ended.
    pub async fn wait(&self, pid: u32) -> ProcessExit {
        let pid = pid as i32;
        loop {
            let notified = self.exited.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            {
                let mut children = self.lock();
                if let Some(exit) = children.exits.remove(&pid) {
                    children.watched.remove(&pid);
                    return exit;
                }
            }
            notified.await;
        }
    }

    /// Collects every child that has exited, without blocking.
    fn reap_exited(&self) {
        let mut collected = false;
        loop {
            let (pid, exit) = match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, ProcessExit::Code(code)),
                Ok(WaitStatus::Signaled(pid, signal, _core_dumped)) => {
                    (pid, ProcessExit::Signal(signal))
                }
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Ok(_stopped_or_continued) => continue,
                Err(Errno::EINTR) => continue,
                Err(error) => {
                    tracing::warn!(%error, "waitpid failed while reaping children");
                    break;
                }
            };

            let mut children = self.lock();
            if children.watched.contains(&pid.as_raw()) {
                children.exits.insert(pid.as_raw(), exit);
                collected = true;
            } else {
                tracing::debug!(pid = pid.as_raw(), %exit, "reaped orphaned process");
            }
        }

        if collected {
            self.exited.notify_waiters();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Children> {
        // A panic while holding this lock leaves only plain maps behind, which stay consistent.
        self.children
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
