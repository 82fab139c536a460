//! Labels: adds labels to the running execution.

use serde_json::{Map, Value};

use super::{Checks, TaskKind, TaskType, task_types, value};
use crate::kestra::document::{Located, Node};
use crate::kestra::is_template;

pub const TYPE: TaskType = TaskType {
    name: task_types::LABELS,
    kind: TaskKind::Labels,
    required: &["labels"],
    optional: &[],
    child_lists: &[],
    check,
};

fn check(task: &Located<Node>, path: &str, checks: &mut dyn Checks) {
    // A template may give the labels as JSON at run time.
    let templated = task
        .value
        .get("labels")
        .and_then(|l| l.value.as_str())
        .is_some_and(is_template);
    if !templated {
        checks.labels(task, path);
    }
}

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
