//! If: runs `then` when its condition renders true, else `else`.

use serde_json::{Map, Value};

use super::{Checks, TaskKind, TaskType, task_types, text};
use crate::kestra::document::{Located, Node, at, join};

pub const TYPE: TaskType = TaskType {
    name: task_types::IF,
    kind: TaskKind::If,
    required: &["condition", "then"],
    optional: &["else", "errors", "finally"],
    child_lists: &["then", "else", "errors", "finally"],
    check,
};

fn check(task: &Located<Node>, path: &str, checks: &mut dyn Checks) {
    if let Some(condition) = task.value.get("condition")
        && !matches!(condition.value, Node::Str(_) | Node::Bool(_))
    {
        let problem = "condition must be a string or a boolean".to_owned();
        checks.report(&join(path, "condition"), at(condition), problem);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct If {
    /// A template (or a boolean, as its text).
    pub condition: String,
}

impl If {
    pub(super) fn read(props: &Map<String, Value>) -> If {
        If {
            condition: text(props, "condition").unwrap_or_default(),
        }
    }
}
