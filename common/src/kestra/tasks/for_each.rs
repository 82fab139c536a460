//! ForEach: runs its tasks once per value.

use serde_json::{Map, Value};

use super::{Checks, TaskKind, TaskType, task_types, value};
use crate::kestra::document::{Located, Node, at, join};

pub const TYPE: TaskType = TaskType {
    name: task_types::FOR_EACH,
    kind: TaskKind::ForEach,
    required: &["values", "tasks"],
    optional: &["concurrencyLimit", "errors", "finally"],
    child_lists: &["tasks", "errors", "finally"],
    check,
};

fn check(task: &Located<Node>, path: &str, checks: &mut dyn Checks) {
    checks.non_negative(task, path, "concurrencyLimit");
    if let Some(values) = task.value.get("values")
        && !matches!(values.value, Node::Seq(_) | Node::Str(_))
    {
        let problem = "values must be a list or a string holding a JSON list".to_owned();
        checks.report(&join(path, "values"), at(values), problem);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ForEach {
    /// A list (each value rendered), or a template giving a JSON list.
    pub values: Option<Value>,
    /// Iterations at once: absent is one at a time, 0 is unlimited.
    pub concurrency_limit: Option<u64>,
}

impl ForEach {
    pub(super) fn read(props: &Map<String, Value>) -> ForEach {
        ForEach {
            values: value(props, "values"),
            concurrency_limit: props.get("concurrencyLimit").and_then(Value::as_u64),
        }
    }
}
