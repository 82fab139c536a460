//! Return: renders `format` into its `value` output.

use serde_json::{Map, Value};

use super::{TaskKind, TaskType, task_types, text};

pub const TYPE: TaskType = TaskType {
    name: task_types::RETURN,
    kind: TaskKind::Return,
    required: &[],
    optional: &["format"],
    child_lists: &[],
    check: super::no_checks,
};

#[derive(Debug, Clone, PartialEq)]
pub struct Return {
    /// A template; empty when absent.
    pub format: String,
}

impl Return {
    pub(super) fn read(props: &Map<String, Value>) -> Return {
        Return {
            format: text(props, "format").unwrap_or_default(),
        }
    }
}
