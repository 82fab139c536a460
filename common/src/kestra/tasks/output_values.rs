//! OutputValues: renders `values` into its `values` output.

use serde_json::{Map, Value, json};

use super::{Checks, TaskKind, TaskType, task_types, value};
use crate::kestra::document::{Located, Node, at, join};

pub const TYPE: TaskType = TaskType {
    name: task_types::OUTPUT_VALUES,
    kind: TaskKind::OutputValues,
    required: &["values"],
    optional: &[],
    child_lists: &[],
    check,
};

fn check(task: &Located<Node>, path: &str, checks: &mut dyn Checks) {
    if let Some(values) = task.value.get("values")
        && !matches!(values.value, Node::Map(_))
    {
        let problem = "values must be a mapping of output names to values".to_owned();
        checks.report(&join(path, "values"), at(values), problem);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutputValues {
    /// A mapping of output names to values, each rendered when it runs.
    pub values: Value,
}

impl OutputValues {
    pub(super) fn read(props: &Map<String, Value>) -> OutputValues {
        OutputValues {
            values: value(props, "values").unwrap_or_else(|| json!({})),
        }
    }
}
