//! Sleep: waits for `duration`.

use serde_json::{Map, Value};

use super::{Checks, TaskKind, TaskType, task_types, text};
use crate::kestra::document::{Located, Node};

pub const TYPE: TaskType = TaskType {
    name: task_types::SLEEP,
    kind: TaskKind::Sleep,
    required: &["duration"],
    optional: &[],
    child_lists: &[],
    check,
};

fn check(task: &Located<Node>, path: &str, checks: &mut dyn Checks) {
    checks.duration(task, path, "duration");
}

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
