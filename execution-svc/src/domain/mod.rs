//! What executions are, with no I/O: ids, states and their history, the
//! executable form of a flow, input checking and templates.

pub mod inputs;
pub mod plan;
pub mod scope;
pub mod template;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tonic::Status;

/// An execution id: a UUID in its hyphenated lower-case form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExecutionId(String);

impl ExecutionId {
    /// A new id: a version 7 UUID, which begins with its time. Rows keyed
    /// by new ids (executions, task runs) are inserted at the end of their
    /// tenant's part of each key index, so a write of a hundred rows
    /// touches a few index pages instead of a hundred scattered ones (with
    /// random ids, a ForEach's task runs made SQLite's WAL grow by 40 MB a
    /// second, and its checkpoints took the disk from every tenant). Its
    /// 74 random bits keep it unguessable; its time is the execution's
    /// creation time, which the API shows anyway.
    pub fn generate() -> ExecutionId {
        ExecutionId(uuid::Uuid::now_v7().to_string())
    }

    /// INVALID_ARGUMENT unless `id` is a UUID.
    pub fn parse(id: &str) -> Result<ExecutionId, Status> {
        uuid::Uuid::parse_str(id)
            .ok()
            .filter(|parsed| parsed.hyphenated().to_string() == id)
            .map(|_| ExecutionId(id.to_owned()))
            .ok_or_else(|| {
                Status::invalid_argument(format!(
                    "execution id '{}' is not a UUID",
                    id.chars().take(64).collect::<String>()
                ))
            })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The states of executions and task runs (Kestra's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Created,
    /// Waiting for a place under its flow's concurrency limit (QUEUE).
    Queued,
    Running,
    /// A failed attempt waits for its retry.
    Retrying,
    Success,
    Warning,
    Failed,
    Killing,
    Killed,
    /// Refused at creation by its flow's concurrency limit (CANCEL).
    Cancelled,
    Restarted,
    /// Failed, and retried in a new execution (`CREATE_NEW_EXECUTION`).
    Retried,
    Skipped,
    /// Waiting at a Pause task for a resume (by hand, or its delay).
    Paused,
}

impl State {
    pub const ALL: [State; 14] = [
        State::Created,
        State::Queued,
        State::Running,
        State::Retrying,
        State::Success,
        State::Warning,
        State::Failed,
        State::Killing,
        State::Killed,
        State::Cancelled,
        State::Restarted,
        State::Retried,
        State::Skipped,
        State::Paused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "CREATED",
            State::Queued => "QUEUED",
            State::Running => "RUNNING",
            State::Retrying => "RETRYING",
            State::Success => "SUCCESS",
            State::Warning => "WARNING",
            State::Failed => "FAILED",
            State::Killing => "KILLING",
            State::Killed => "KILLED",
            State::Cancelled => "CANCELLED",
            State::Restarted => "RESTARTED",
            State::Retried => "RETRIED",
            State::Skipped => "SKIPPED",
            State::Paused => "PAUSED",
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Nothing more happens to an execution or task run in this state
    /// (until a restart).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Success
                | State::Warning
                | State::Failed
                | State::Killed
                | State::Cancelled
                | State::Retried
                | State::Skipped
        )
    }

    /// A task run in this state is done for good: a resumed or restarted
    /// execution keeps it and its outputs.
    pub fn is_done(self) -> bool {
        matches!(self, State::Success | State::Warning | State::Skipped)
    }
}

/// One state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub state: String,
    pub date: DateTime<Utc>,
}

/// `histories` (stored as JSON) with `state` appended at `now`.
pub fn push_history(histories: &str, state: State, now: DateTime<Utc>) -> String {
    let mut list = parse_histories(histories);
    list.push(History {
        state: state.as_str().to_owned(),
        date: now,
    });
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned())
}

pub fn parse_histories(histories: &str) -> Vec<History> {
    serde_json::from_str(histories).unwrap_or_default()
}

pub use aerie_common::kestra::LOG_LEVELS;

/// An execution's trigger as templates and the API show it: what the
/// trigger gave (`body`, `headers`, `parameters`; a schedule's `date`) at
/// the top, as Aerie always had it, and under `variables` as well, where
/// Kestra keeps it.
pub fn trigger_view(stored: serde_json::Value) -> serde_json::Value {
    let serde_json::Value::Object(mut trigger) = stored else {
        return stored;
    };
    if trigger.is_empty() || trigger.contains_key("variables") {
        return serde_json::Value::Object(trigger);
    }
    let variables: serde_json::Map<_, _> = trigger
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "id" | "type"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    trigger.insert("variables".into(), serde_json::Value::Object(variables));
    serde_json::Value::Object(trigger)
}

/// Labels as templates see them, as Kestra builds them: `system.*` labels
/// under `system` (`{{ labels.system.correlationId }}`), the others by key.
pub fn template_labels(labels: &std::collections::BTreeMap<String, String>) -> serde_json::Value {
    let mut view = serde_json::Map::new();
    let mut system = serde_json::Map::new();
    for (key, value) in labels {
        match key.strip_prefix("system.") {
            Some(name) => {
                system.insert(name.to_owned(), value.clone().into());
            }
            None => {
                view.insert(key.clone(), value.clone().into());
            }
        }
    }
    if !system.is_empty() {
        view.insert("system".to_owned(), system.into());
    }
    serde_json::Value::Object(view)
}

/// `trigger` as templates see it: Kestra gives a trigger's variables
/// (`{{ trigger.executionId }}`, `{{ trigger.body }}`); `trigger.variables`,
/// `trigger.id` and `trigger.type` stay readable too.
pub fn template_trigger(stored: serde_json::Value) -> serde_json::Value {
    let mut view = trigger_view(stored);
    if let serde_json::Value::Object(trigger) = &mut view
        && let Some(serde_json::Value::Object(variables)) = trigger.get("variables").cloned()
    {
        for (key, value) in variables {
            trigger.entry(key).or_insert(value);
        }
    }
    view
}

/// The rank of a level in [`LOG_LEVELS`]; INVALID_ARGUMENT for anything else.
pub fn log_level_rank(level: &str) -> Result<usize, Status> {
    LOG_LEVELS
        .iter()
        .position(|l| l.eq_ignore_ascii_case(level))
        .ok_or_else(|| {
            Status::invalid_argument(format!(
                "log level must be one of {}",
                LOG_LEVELS.join(", ")
            ))
        })
}

/// The internal-storage URI scheme, as Kestra writes it.
pub const STORAGE_SCHEME: &str = "kestra:///";

/// Where an execution's files live, inside its tenant's storage:
/// `<namespace as folders>/<flow id>/executions/<execution id>`.
pub fn execution_folder(namespace: &str, flow_id: &str, execution: &ExecutionId) -> String {
    format!(
        "{}/{flow_id}/executions/{execution}",
        namespace.replace('.', "/")
    )
}

/// Labels an execution may carry: at most 64, keys of 1 to 128 characters
/// without control characters or surrounding blanks, values of at most
/// 1024.
pub fn check_labels(labels: &std::collections::BTreeMap<String, String>) -> Result<(), String> {
    const MOST: usize = 64;
    if labels.len() > MOST {
        return Err(format!(
            "an execution carries at most {MOST} labels; this one would have {}",
            labels.len()
        ));
    }
    let bad_key =
        |k: &str| k.is_empty() || k.len() > 128 || k.trim() != k || k.chars().any(char::is_control);
    match labels.iter().find(|(k, v)| bad_key(k) || v.len() > 1024) {
        Some((key, _)) => Err(format!(
            "label '{}': a key is 1 to 128 characters, without control characters or \
             surrounding blanks, and a value at most 1024",
            key.chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect::<String>()
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_execution_ids_sort_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..100)
            .map(|_| ExecutionId::generate().as_str().to_owned())
            .collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
        assert!(ids.iter().all(|id| ExecutionId::parse(id).is_ok()));
    }

    #[test]
    fn templates_see_a_triggers_variables_as_kestra_gives_them() {
        let view = template_trigger(serde_json::json!({
            "id": "call", "type": "io.kestra.plugin.core.flow.Subflow",
            "variables": {"executionId": "e1", "flowId": "parent"},
        }));
        assert_eq!(view["executionId"], "e1");
        assert_eq!(view["variables"]["flowId"], "parent");
        assert_eq!(view["id"], "call");
        let hook = template_trigger(serde_json::json!({"id": "h", "type": "w", "body": {"a": 1}}));
        assert_eq!(hook["body"]["a"], 1);
        assert_eq!(hook["variables"]["body"]["a"], 1);
    }

    #[test]
    fn templates_see_system_labels_under_system_as_kestra_builds_them() {
        let labels = [("system.correlationId", "c1"), ("team", "data")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            template_labels(&labels),
            serde_json::json!({"system": {"correlationId": "c1"}, "team": "data"})
        );
        assert_eq!(template_labels(&Default::default()), serde_json::json!({}));
    }

    #[test]
    fn label_keys_and_values_are_bounded_and_printable() {
        let one =
            |k: &str, v: &str| check_labels(&[(k.to_owned(), v.to_owned())].into_iter().collect());
        assert!(one("team", "data").is_ok());
        assert!(one("", "x").is_err());
        assert!(one(" team", "x").is_err());
        assert!(one("te\u{0}am", "x").is_err());
        assert!(one("team", "two\nlines").is_ok());
        assert!(one(&"k".repeat(129), "x").is_err());
        assert!(one("team", &"v".repeat(1025)).is_err());
    }

    #[test]
    fn execution_ids_are_canonical_uuids() {
        let id = ExecutionId::generate();
        assert_eq!(ExecutionId::parse(id.as_str()).unwrap(), id);
        for bad in [
            "",
            "x",
            "../etc",
            &id.as_str().to_uppercase(),
            &format!("{id}0"),
        ] {
            assert_eq!(
                ExecutionId::parse(bad).unwrap_err().code(),
                tonic::Code::InvalidArgument,
                "{bad}"
            );
        }
    }

    #[test]
    fn states_round_trip_and_histories_append() {
        for state in State::ALL {
            assert_eq!(State::parse(state.as_str()), Some(state));
        }
        let now = Utc::now();
        let one = push_history("[]", State::Created, now);
        let two = push_history(&one, State::Running, now);
        let list = parse_histories(&two);
        assert_eq!(
            list.iter().map(|h| h.state.as_str()).collect::<Vec<_>>(),
            ["CREATED", "RUNNING"]
        );
    }
}
