//! Parallel: runs its tasks at the same time, `concurrent` at most.

use serde_json::{Map, Value};

use super::{TaskKind, TaskType, task_types};

pub const TYPE: TaskType = TaskType {
    name: task_types::PARALLEL,
    kind: TaskKind::Parallel,
    required: &["tasks"],
    optional: &["concurrent", "errors", "finally"],
    child_lists: &["tasks", "errors", "finally"],
};

#[derive(Debug, Clone, PartialEq)]
pub struct Parallel {
    /// How many branches run at once; `None` (absent or 0) is all of them.
    pub concurrent: Option<u64>,
}

impl Parallel {
    pub(super) fn read(props: &Map<String, Value>) -> Parallel {
        Parallel {
            concurrent: props
                .get("concurrent")
                .and_then(Value::as_u64)
                .filter(|n| *n > 0),
        }
    }
}
