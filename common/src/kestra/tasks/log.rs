//! Log: writes its message (or each of its messages) as a log line.

use serde_json::{Map, Value};

use super::{TaskKind, TaskType, task_types, text};

pub const TYPE: TaskType = TaskType {
    name: task_types::LOG,
    kind: TaskKind::Log,
    required: &["message"],
    optional: &["level"],
    child_lists: &[],
};

#[derive(Debug, Clone, PartialEq)]
pub struct Log {
    /// Each message as written: a template, or another scalar printed as
    /// its JSON text.
    pub messages: Vec<Value>,
    /// `level`, upper-cased; INFO when absent.
    pub level: String,
}

impl Log {
    pub(super) fn read(props: &Map<String, Value>) -> Log {
        Log {
            messages: match props.get("message") {
                Some(Value::Array(items)) => items.clone(),
                Some(other) => vec![other.clone()],
                None => Vec::new(),
            },
            level: text(props, "level")
                .unwrap_or_else(|| "INFO".into())
                .to_uppercase(),
        }
    }
}
