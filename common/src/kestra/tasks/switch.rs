//! Switch: runs the case its rendered value names, else `defaults`.

use serde_json::{Map, Value};

use super::{TaskKind, TaskType, task_types, text};

pub const TYPE: TaskType = TaskType {
    name: task_types::SWITCH,
    kind: TaskKind::Switch,
    required: &["value"],
    optional: &["cases", "defaults", "errors", "finally"],
    child_lists: &["defaults", "errors", "finally"],
};

#[derive(Debug, Clone, PartialEq)]
pub struct Switch {
    /// A template; its rendered text picks the case.
    pub value: String,
}

impl Switch {
    pub(super) fn read(props: &Map<String, Value>) -> Switch {
        Switch {
            value: text(props, "value").unwrap_or_default(),
        }
    }
}
