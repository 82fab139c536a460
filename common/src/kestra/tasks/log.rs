//! Log: writes its message (or each of its messages) as a log line.

use serde_json::{Map, Value};

use super::{Checks, TaskKind, TaskType, task_types, text};
use crate::kestra::LOG_LEVELS;
use crate::kestra::document::{Located, Node, at, join};

pub const TYPE: TaskType = TaskType {
    name: task_types::LOG,
    kind: TaskKind::Log,
    required: &["message"],
    optional: &["level"],
    child_lists: &[],
    check,
};

fn check(task: &Located<Node>, path: &str, checks: &mut dyn Checks) {
    if let Some(message) = task.value.get("message") {
        let ok = match &message.value {
            Node::Seq(items) => items.iter().all(|i| i.value.text().is_some()),
            other => other.text().is_some(),
        };
        if !ok {
            let problem = "message must be a string or a list of strings".to_owned();
            checks.report(&join(path, "message"), at(message), problem);
        }
    }
    if let Some(level) = task.value.get("level")
        && !level
            .value
            .as_str()
            .is_some_and(|l| LOG_LEVELS.contains(&l))
    {
        let problem = format!("level must be one of {}", LOG_LEVELS.join(", "));
        checks.report(&join(path, "level"), at(level), problem);
    }
}

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
