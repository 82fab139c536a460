//! Subflow: starts an execution of another flow of the tenant and, with
//! `wait`, ends as it ends. `timeout` is refused for it when a flow is
//! saved: the wait is bounded by the subflow's own tasks.

use serde_json::{Map, Value};

use super::{TaskKind, TaskType, flag, task_types, text, value};

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
    ],
    child_lists: &[],
};

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
        }
    }
}
