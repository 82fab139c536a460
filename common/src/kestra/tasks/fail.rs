//! Fail: fails the task (when its condition holds) with `errorMessage`.

use serde_json::{Map, Value};

use super::{TaskKind, TaskType, task_types, text};

pub const TYPE: TaskType = TaskType {
    name: task_types::FAIL,
    kind: TaskKind::Fail,
    required: &[],
    optional: &["condition", "errorMessage"],
    child_lists: &[],
    check: super::no_checks,
};

#[derive(Debug, Clone, PartialEq)]
pub struct Fail {
    /// A template; absent fails always.
    pub condition: Option<String>,
    /// A template; absent is "Flow failed", as in Kestra.
    pub error_message: Option<String>,
}

impl Fail {
    pub(super) fn read(props: &Map<String, Value>) -> Fail {
        Fail {
            condition: text(props, "condition"),
            error_message: text(props, "errorMessage"),
        }
    }
}
