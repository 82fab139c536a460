//! Sleep: waits for `duration`.

use serde_json::{Map, Value};

use super::{TaskKind, TaskType, task_types, text};

pub const TYPE: TaskType = TaskType {
    name: task_types::SLEEP,
    kind: TaskKind::Sleep,
    required: &["duration"],
    optional: &[],
    child_lists: &[],
};

#[derive(Debug, Clone, PartialEq)]
pub struct Sleep {
    /// An ISO-8601 duration once rendered.
    pub duration: String,
}

impl Sleep {
    pub(super) fn read(props: &Map<String, Value>) -> Sleep {
        Sleep {
            duration: text(props, "duration").unwrap_or_default(),
        }
    }
}
