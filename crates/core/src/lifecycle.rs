//! The agent lifecycle state machine.
//!
//! The public states are `provisioning`, `running`, `paused`, `stopped` and
//! `error`. The control plane stores a desired state beside the observed one;
//! an [`Action`] changes the desired state, and the reconciler moves the
//! sandbox toward it. [`plan`] lists, for every state, which actions it
//! accepts, which are no-ops and which it rejects.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// Observed state of an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    Provisioning,
    Running,
    Paused,
    Stopped,
    Error,
}

impl AgentStatus {
    pub const ALL: [AgentStatus; 5] = [
        AgentStatus::Provisioning,
        AgentStatus::Running,
        AgentStatus::Paused,
        AgentStatus::Stopped,
        AgentStatus::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Provisioning => "provisioning",
            AgentStatus::Running => "running",
            AgentStatus::Paused => "paused",
            AgentStatus::Stopped => "stopped",
            AgentStatus::Error => "error",
        }
    }

    pub fn parse(value: &str) -> Option<AgentStatus> {
        AgentStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

impl fmt::Display for AgentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// State the reconciler drives an agent's sandbox toward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DesiredState {
    Running,
    Paused,
    Stopped,
}

impl DesiredState {
    pub fn as_str(self) -> &'static str {
        match self {
            DesiredState::Running => "running",
            DesiredState::Paused => "paused",
            DesiredState::Stopped => "stopped",
        }
    }

    pub fn parse(value: &str) -> Option<DesiredState> {
        [DesiredState::Running, DesiredState::Paused, DesiredState::Stopped]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// A lifecycle action requested through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Start,
    Stop,
    Restart,
    Pause,
    Resume,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
            Action::Pause => "pause",
            Action::Resume => "resume",
        }
    }
}

/// What an accepted action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// The agent is already where the action leads; nothing changes.
    NoOp,
    /// Set the desired state; `restart` also asks for a fresh runtime.
    Transition { desired: DesiredState, restart: bool },
}

/// An action that the agent's current state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// The action needs a running agent and the agent is stopped.
    #[error("agent is stopped; start it first with POST /v1/agents/{{id}}/start")]
    NotRunning,
    #[error("cannot {action} an agent that is {status}; {hint}")]
    Conflict { action: &'static str, status: AgentStatus, hint: &'static str },
}

/// Decides what `action` does to an agent in `status`.
pub fn plan(status: AgentStatus, action: Action) -> Result<Plan, LifecycleError> {
    use AgentStatus as S;

    let conflict = |hint| LifecycleError::Conflict { action: action.as_str(), status, hint };
    let to = |desired| Ok(Plan::Transition { desired, restart: false });

    match (action, status) {
        (Action::Start, S::Running | S::Provisioning) => Ok(Plan::NoOp),
        (Action::Start, S::Stopped | S::Error) => to(DesiredState::Running),
        (Action::Start, S::Paused) => Err(conflict("resume it with POST /v1/agents/{id}/resume")),

        (Action::Stop, S::Stopped) => Ok(Plan::NoOp),
        (Action::Stop, S::Running | S::Paused | S::Provisioning | S::Error) => to(DesiredState::Stopped),

        (Action::Restart, S::Running | S::Paused | S::Error) => {
            Ok(Plan::Transition { desired: DesiredState::Running, restart: true })
        }
        (Action::Restart, S::Stopped) => Err(LifecycleError::NotRunning),
        (Action::Restart, S::Provisioning) => Err(conflict("wait until it is running, then retry")),

        (Action::Pause, S::Paused) => Ok(Plan::NoOp),
        (Action::Pause, S::Running) => to(DesiredState::Paused),
        (Action::Pause, S::Stopped) => Err(LifecycleError::NotRunning),
        (Action::Pause, S::Provisioning) => Err(conflict("wait until it is running, then retry")),
        (Action::Pause, S::Error) => Err(conflict("restart it or check its logs")),

        (Action::Resume, S::Running) => Ok(Plan::NoOp),
        (Action::Resume, S::Paused) => to(DesiredState::Running),
        (Action::Resume, S::Stopped) => Err(LifecycleError::NotRunning),
        (Action::Resume, S::Provisioning) => Err(conflict("wait until it is running")),
        (Action::Resume, S::Error) => Err(conflict("restart it or check its logs")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIONS: [Action; 5] = [Action::Start, Action::Stop, Action::Restart, Action::Pause, Action::Resume];

    #[test]
    fn every_pair_has_a_decision() {
        for status in AgentStatus::ALL {
            for action in ACTIONS {
                let _ = plan(status, action);
            }
        }
    }

    #[test]
    fn repeated_actions_are_noops() {
        assert_eq!(plan(AgentStatus::Running, Action::Start), Ok(Plan::NoOp));
        assert_eq!(plan(AgentStatus::Stopped, Action::Stop), Ok(Plan::NoOp));
        assert_eq!(plan(AgentStatus::Paused, Action::Pause), Ok(Plan::NoOp));
        assert_eq!(plan(AgentStatus::Running, Action::Resume), Ok(Plan::NoOp));
    }

    #[test]
    fn stopped_agent_rejects_running_actions() {
        for action in [Action::Restart, Action::Pause, Action::Resume] {
            assert_eq!(plan(AgentStatus::Stopped, action), Err(LifecycleError::NotRunning), "{action:?}");
        }
    }

    #[test]
    fn conflict_message_names_state_and_next_step() {
        let err = plan(AgentStatus::Paused, Action::Start).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot start an agent that is paused; resume it with POST /v1/agents/{id}/resume"
        );
    }

    #[test]
    fn transitions_set_desired_state() {
        assert_eq!(
            plan(AgentStatus::Running, Action::Pause),
            Ok(Plan::Transition { desired: DesiredState::Paused, restart: false })
        );
        assert_eq!(
            plan(AgentStatus::Error, Action::Restart),
            Ok(Plan::Transition { desired: DesiredState::Running, restart: true })
        );
    }
}
