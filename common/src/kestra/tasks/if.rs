//! If: runs `then` when its condition renders true, else `else`.

use serde_json::{Map, Value};

use super::{TaskKind, TaskType, task_types, text};

pub const TYPE: TaskType = TaskType {
    name: task_types::IF,
    kind: TaskKind::If,
    required: &["condition", "then"],
    optional: &["else", "errors", "finally"],
    child_lists: &["then", "else", "errors", "finally"],
};

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
