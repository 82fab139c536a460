//! Write: stores its rendered content as an execution file.

use serde_json::{Map, Value};

use super::{TaskKind, TaskType, task_types, text};

pub const TYPE: TaskType = TaskType {
    name: task_types::WRITE,
    kind: TaskKind::Write,
    required: &["content"],
    optional: &["extension"],
    child_lists: &[],
    check: super::no_checks,
};

#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// A template.
    pub content: String,
    /// The file's extension; `.ion` when absent, as in Kestra.
    pub extension: String,
}

impl Write {
    pub(super) fn read(props: &Map<String, Value>) -> Write {
        Write {
            content: text(props, "content").unwrap_or_default(),
            extension: text(props, "extension").unwrap_or_else(|| ".ion".into()),
        }
    }
}
