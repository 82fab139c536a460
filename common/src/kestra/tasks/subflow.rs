//! Subflow: starts an execution of another flow of the tenant and, with
//! `wait`, ends as it ends, its `outputs` rendered with the subflow's task
//! outputs. `timeout` is refused for it when a flow is
//! saved: the wait is bounded by the subflow's own tasks.

use serde_json::{Map, Value};

use super::{Checks, TaskKind, TaskType, flag, task_types, text, value};
use crate::kestra::document::{Located, Node, at, join};
use crate::kestra::{id_problem, is_template, namespace_problem};

pub const TYPE: TaskType = TaskType {
    name: task_types::SUBFLOW,
    kind: TaskKind::Subflow,
    required: &["namespace", "flowId"],
    optional: &[
        "revision",
        "inputs",
        "labels",
        "wait",
        "transmitFailed",
        "inheritLabels",
        "outputs",
    ],
    child_lists: &[],
    check,
};

/// The properties that say which subflow starts and how, on a Subflow
/// task or a ForEachItem. Its target is looked up when it runs: it may be
/// a template, and the flow may be created later.
pub(super) fn check(task: &Located<Node>, path: &str, checks: &mut dyn Checks) {
    if let Some(timeout) = task.value.get("timeout") {
        let problem =
            "'timeout' is not supported on a Subflow: bound the subflow's own tasks instead";
        checks.report(&join(path, "timeout"), at(timeout), problem.to_owned());
    }
    // A literal target must be a namespace and a flow id.
    for (key, problem) in [
        ("namespace", namespace_problem as fn(&str) -> Option<String>),
        ("flowId", |id: &str| id_problem("flow id", id, 100)),
    ] {
        let Some(value) = task.value.get(key) else {
            continue;
        };
        let problem = match value.value.text() {
            Some(text) if is_template(&text) => None,
            Some(text) => problem(&text),
            None => Some(format!(
                "'{key}' must be a string, not {}",
                value.value.kind()
            )),
        };
        if let Some(problem) = problem {
            checks.report(&join(path, key), at(value), problem);
        }
    }
    for key in ["wait", "transmitFailed", "inheritLabels"] {
        checks.optional_bool(task, path, key);
    }
    if let Some(revision) = task.value.get("revision") {
        let ok = match &revision.value {
            Node::Int(n) => *n >= 1,
            Node::Str(text) => is_template(text),
            _ => false,
        };
        if !ok {
            let problem = "revision must be a whole number, 1 or more".to_owned();
            checks.report(&join(path, "revision"), at(revision), problem);
        }
    }
    if let Some(outputs) = task.value.get("outputs")
        && !matches!(outputs.value, Node::Map(_))
    {
        let problem = "outputs must be a mapping of names to templates rendered with the subflow's task outputs".to_owned();
        checks.report(&join(path, "outputs"), at(outputs), problem);
    }
    if let Some(inputs) = task.value.get("inputs")
        && !matches!(inputs.value, Node::Map(_))
    {
        let problem = "inputs must be a mapping of the subflow's input ids to values".to_owned();
        checks.report(&join(path, "inputs"), at(inputs), problem);
    }
    checks.labels(task, path);
}

/// The subflow a task starts and how: a Subflow task's properties, and
/// those a ForEachItem gives its `_items` part.
#[derive(Debug, Clone, PartialEq)]
pub struct SubflowCall {
    /// Templates.
    pub namespace: String,
    pub flow_id: String,
    /// A template giving a whole number; absent is the latest revision.
    pub revision: Option<String>,
    /// The subflow's inputs, each rendered.
    pub inputs: Map<String, Value>,
    /// The subflow's own labels (keys rendered), as a mapping or a list.
    pub labels: Option<Value>,
    pub wait: bool,
    /// Whether a FAILED, KILLED or WARNING subflow is passed on.
    pub transmit_failed: bool,
    /// Whether the subflow takes all of this execution's labels (else
    /// only its system labels).
    pub inherit_labels: bool,
    /// Kestra's (deprecated) `outputs`: templates rendered, once the
    /// subflow has ended, with its tasks' outputs; they join its flow
    /// outputs as the task's `outputs`.
    pub outputs: Map<String, Value>,
}

impl SubflowCall {
    pub(super) fn read(props: &Map<String, Value>) -> SubflowCall {
        SubflowCall {
            namespace: text(props, "namespace").unwrap_or_default(),
            flow_id: text(props, "flowId").unwrap_or_default(),
            revision: text(props, "revision"),
            inputs: match props.get("inputs") {
                Some(Value::Object(inputs)) => inputs.clone(),
                _ => Map::new(),
            },
            labels: value(props, "labels"),
            wait: flag(props, "wait", true),
            transmit_failed: flag(props, "transmitFailed", true),
            inherit_labels: flag(props, "inheritLabels", false),
            outputs: match props.get("outputs") {
                Some(Value::Object(outputs)) => outputs.clone(),
                _ => Map::new(),
            },
        }
    }
}
