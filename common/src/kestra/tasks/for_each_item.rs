//! ForEachItem: runs a subflow per batch of the lines of a file. It runs as
//! Kestra lays it out, three task runs inside it: `{id}_split` cuts the
//! items into batch files, `{id}_items` starts a subflow execution per
//! batch ([`SubflowCall`](super::SubflowCall)), `{id}_merge` gathers their
//! outputs.

use serde_json::{Map, Value};

use super::{TaskKind, TaskType, task_types, text};

pub const TYPE: TaskType = TaskType {
    name: task_types::FOR_EACH_ITEM,
    kind: TaskKind::ForEachItem,
    required: &["items", "namespace", "flowId"],
    optional: &[
        "batch",
        "revision",
        "inputs",
        "labels",
        "wait",
        "transmitFailed",
        "inheritLabels",
        "errors",
    ],
    child_lists: &["errors"],
};

/// What the `_split` part reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ForEachItemSplit {
    /// A template giving a `kestra://` file.
    pub items: String,
    /// `rows`, `bytes` or `partitions`, each value rendered.
    pub batch: Map<String, Value>,
}

impl ForEachItemSplit {
    pub(super) fn read(props: &Map<String, Value>) -> ForEachItemSplit {
        ForEachItemSplit {
            items: text(props, "items").unwrap_or_default(),
            batch: match props.get("batch") {
                Some(Value::Object(batch)) => batch.clone(),
                _ => Map::new(),
            },
        }
    }
}
