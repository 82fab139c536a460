//! Labels: adds labels to the running execution.

use serde_json::{Map, Value};

use super::{TaskKind, TaskType, task_types, value};

pub const TYPE: TaskType = TaskType {
    name: task_types::LABELS,
    kind: TaskKind::Labels,
    required: &["labels"],
    optional: &[],
    child_lists: &[],
};

#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    /// A mapping (keys and values rendered), a list of `{key, value}`, or
    /// a template giving either as JSON.
    pub labels: Value,
}

impl Labels {
    pub(super) fn read(props: &Map<String, Value>) -> Labels {
        Labels {
            labels: value(props, "labels").unwrap_or(Value::Null),
        }
    }
}
