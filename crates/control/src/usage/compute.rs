//! Compute time per agent status, derived from the status history.

use gopilot_core::{AgentStatus, Size};
use time::OffsetDateTime;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const MS_PER_SECOND: f64 = 1000.0;

/// Seconds an agent spent in each status within a time range.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StatusSeconds {
    pub provisioning: f64,
    pub running: f64,
    pub paused: f64,
    pub stopped: f64,
    pub error: f64,
}

impl StatusSeconds {
    fn add(&mut self, status: AgentStatus, seconds: f64) {
        let slot = match status {
            AgentStatus::Provisioning => &mut self.provisioning,
            AgentStatus::Running => &mut self.running,
            AgentStatus::Paused => &mut self.paused,
            AgentStatus::Stopped => &mut self.stopped,
            AgentStatus::Error => &mut self.error,
        };
        *slot += seconds;
    }

    pub fn total(&self) -> f64 {
        self.provisioning + self.running + self.paused + self.stopped + self.error
    }
}

/// Compute time of one agent within a time range.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeUsage {
    pub agent_id: String,
    pub size: Size,
    pub seconds: StatusSeconds,
    /// Running seconds times the size's vCPUs.
    pub vcpu_seconds: f64,
    /// Running seconds times the size's memory limit in GiB.
    pub memory_gib_seconds: f64,
}

impl ComputeUsage {
    pub fn new(agent_id: String, size: Size, seconds: StatusSeconds) -> ComputeUsage {
        let resources = size.resources();
        ComputeUsage {
            agent_id,
            size,
            vcpu_seconds: seconds.running * f64::from(resources.vcpus),
            memory_gib_seconds: seconds.running * resources.memory_bytes as f64 / GIB,
            seconds,
        }
    }
}

/// Sums the time spent in each status within `[start, end)`.
///
/// `changes` lists when the agent entered each status, oldest first. Each
/// status lasts until the next change, and the last one lasts until `now`,
/// so time after `now` is never counted. Before the first change the agent
/// did not exist and counts nothing.
pub fn status_seconds(
    changes: &[(OffsetDateTime, AgentStatus)],
    start: OffsetDateTime,
    end: OffsetDateTime,
    now: OffsetDateTime,
) -> StatusSeconds {
    let end = end.min(now);
    let mut seconds = StatusSeconds::default();

    for (index, (entered, status)) in changes.iter().enumerate() {
        let left = changes.get(index + 1).map_or(now, |(next, _)| *next);
        let from = (*entered).max(start);
        let to = left.min(end);
        if to > from {
            let milliseconds = (to - from).whole_milliseconds() as f64;
            seconds.add(*status, milliseconds / MS_PER_SECOND);
        }
    }
    seconds
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;
    use AgentStatus::*;

    const T0: OffsetDateTime = datetime!(2026-03-01 00:00 UTC);

    fn at(seconds: i64) -> OffsetDateTime {
        T0 + Duration::seconds(seconds)
    }

    fn history() -> Vec<(OffsetDateTime, AgentStatus)> {
        vec![(at(0), Provisioning), (at(10), Running), (at(100), Paused), (at(130), Running), (at(200), Stopped)]
    }

    #[test]
    fn whole_history_inside_range() {
        let seconds = status_seconds(&history(), at(-50), at(1000), at(1000));
        assert_eq!(
            seconds,
            StatusSeconds { provisioning: 10.0, running: 160.0, paused: 30.0, stopped: 800.0, error: 0.0 }
        );
    }

    #[test]
    fn range_clips_both_ends() {
        // [50, 150): running 50..100, paused 100..130, running 130..150.
        let seconds = status_seconds(&history(), at(50), at(150), at(1000));
        assert_eq!(seconds, StatusSeconds { running: 70.0, paused: 30.0, ..StatusSeconds::default() });
    }

    #[test]
    fn open_interval_ends_at_now() {
        // The agent is still stopped; the range reaches past now.
        let seconds = status_seconds(&history(), at(150), at(10_000), at(260));
        assert_eq!(seconds, StatusSeconds { running: 50.0, stopped: 60.0, ..StatusSeconds::default() });
    }

    #[test]
    fn agent_created_inside_range() {
        let changes = [(at(300), Provisioning), (at(312), Running)];
        let seconds = status_seconds(&changes, at(0), at(400), at(400));
        assert_eq!(seconds, StatusSeconds { provisioning: 12.0, running: 88.0, ..StatusSeconds::default() });
        assert_eq!(seconds.total(), 100.0, "time before creation must not count");
    }

    #[test]
    fn range_before_creation_is_empty() {
        let seconds = status_seconds(&history(), at(-100), at(-1), at(1000));
        assert_eq!(seconds, StatusSeconds::default());
    }

    #[test]
    fn milliseconds_are_kept() {
        let changes = [(at(0), Error)];
        let seconds = status_seconds(&changes, at(0), at(10), at(0) + Duration::milliseconds(1_250));
        assert_eq!(seconds.error, 1.25);
    }

    #[test]
    fn resources_scale_running_time() {
        let seconds = StatusSeconds { running: 10.0, paused: 99.0, ..StatusSeconds::default() };
        let usage = ComputeUsage::new("ag1".into(), Size::Large, seconds);
        assert_eq!(usage.vcpu_seconds, 20.0);
        assert_eq!(usage.memory_gib_seconds, 80.0);
    }
}
