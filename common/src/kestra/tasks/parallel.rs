//! Parallel: runs its tasks at the same time, `concurrent` at most.

use serde_json::{Map, Value};

use super::{Checks, TaskKind, TaskType, task_types};
use crate::kestra::document::{Located, Node};

pub const TYPE: TaskType = TaskType {
    name: task_types::PARALLEL,
    kind: TaskKind::Parallel,
    required: &["tasks"],
    optional: &["concurrent", "errors", "finally"],
    child_lists: &["tasks", "errors", "finally"],
    check,
};

fn check(task: &Located<Node>, path: &str, checks: &mut dyn Checks) {
    checks.non_negative(task, path, "concurrent");
}

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
