//! Pause: stops the execution until it is resumed, or for `delay`.
//! `timeout` (a common property) is how long the pause may last before
//! the task fails.

use serde_json::{Map, Value};

use super::{Checks, TaskKind, TaskType, task_types, text};
use crate::kestra::document::{Located, Node};

pub const TYPE: TaskType = TaskType {
    name: task_types::PAUSE,
    kind: TaskKind::Pause,
    required: &[],
    optional: &["delay", "tasks", "errors"],
    child_lists: &["tasks", "errors"],
    check,
};

fn check(task: &Located<Node>, path: &str, checks: &mut dyn Checks) {
    checks.duration(task, path, "delay");
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pause {
    /// A template giving an ISO-8601 duration: the execution resumes by
    /// itself after it.
    pub delay: Option<String>,
}

impl Pause {
    pub(super) fn read(props: &Map<String, Value>) -> Pause {
        Pause {
            delay: text(props, "delay"),
        }
    }
}
