//! OutputValues: renders `values` into its `values` output.

use serde_json::{Map, Value, json};

use super::{TaskKind, TaskType, task_types, value};

pub const TYPE: TaskType = TaskType {
    name: task_types::OUTPUT_VALUES,
    kind: TaskKind::OutputValues,
    required: &["values"],
    optional: &[],
    child_lists: &[],
};

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
