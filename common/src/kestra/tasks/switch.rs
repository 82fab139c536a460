//! Switch: runs the case its rendered value names, else `defaults`.

use serde_json::{Map, Value};

use super::{Checks, TaskKind, TaskType, task_types, text};
use crate::kestra::document::{Located, Node, at, join};

pub const TYPE: TaskType = TaskType {
    name: task_types::SWITCH,
    kind: TaskKind::Switch,
    required: &["value"],
    optional: &["cases", "defaults", "errors", "finally"],
    child_lists: &["defaults", "errors", "finally"],
    check,
};

/// `cases`: a mapping of values to task lists; with `defaults`, at least
/// one branch.
fn check(task: &Located<Node>, path: &str, checks: &mut dyn Checks) {
    match task.value.get("cases") {
        None => {
            if task.value.get("defaults").is_none() {
                let problem = "a Switch needs cases, defaults or both".to_owned();
                checks.report(path, at(task), problem);
            }
        }
        Some(cases) => match &cases.value {
            Node::Map(entries) => {
                for (key, tasks) in entries {
                    checks.nested_tasks(tasks, &format!("{path}.cases.{}", key.value));
                }
            }
            other => {
                let problem = format!(
                    "cases must be a mapping of values to task lists, not {}",
                    other.kind()
                );
                checks.report(&join(path, "cases"), at(cases), problem);
            }
        },
    }
}

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
