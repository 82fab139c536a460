//! ForEachItem: runs a subflow per batch of the lines of a file. It runs as
//! Kestra lays it out, three task runs inside it: `{id}_split` cuts the
//! items into batch files, `{id}_items` starts a subflow execution per
//! batch ([`SubflowCall`](super::SubflowCall)), `{id}_merge` gathers their
//! outputs.

use serde_json::{Map, Value};

use super::{Checks, TaskKind, TaskType, task_types, text};
use crate::kestra::document::{Located, Node, at, join};
use crate::kestra::{is_template, parse_byte_size};

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
    check,
};

fn check(task: &Located<Node>, path: &str, checks: &mut dyn Checks) {
    super::subflow::check(task, path, checks);
    check_batch(task, path, checks);
}

/// `batch`: one of `rows`, `partitions` (whole numbers, 1 or more) or
/// `bytes` (a size such as `10MB`), and the `separator` written after each
/// item; templates are checked when they run.
fn check_batch(task: &Located<Node>, path: &str, checks: &mut dyn Checks) {
    let Some(batch) = task.value.get("batch") else {
        return;
    };
    let path = join(path, "batch");
    let Node::Map(entries) = &batch.value else {
        checks.report(&path, at(batch), "batch must be a mapping".to_owned());
        return;
    };
    let mut sizes = Vec::new();
    for (key, value) in entries {
        let problem = match (key.value.as_str(), &value.value) {
            (_, Node::Str(text)) if is_template(text) => None,
            ("rows" | "partitions", Node::Int(n)) if *n >= 1 => None,
            ("rows" | "partitions", _) => Some("must be a whole number, 1 or more"),
            ("bytes", Node::Str(text)) if parse_byte_size(text).is_some() => None,
            ("bytes", _) => Some("must be a size such as 512KB or 10MB"),
            ("separator", Node::Str(_)) => None,
            ("separator", _) => Some("must be a string"),
            (other, _) => {
                checks.unknown(&join(&path, other), key, "property", "ForEachItem's batch");
                continue;
            }
        };
        if key.value != "separator" {
            sizes.push(key.value.clone());
        }
        if let Some(problem) = problem {
            let message = format!("{} {problem}", key.value);
            checks.report(&join(&path, &key.value), at(value), message);
        }
    }
    if sizes.len() > 1 {
        let message = format!(
            "batch takes one of rows, partitions or bytes, not {}",
            sizes.join(" and ")
        );
        checks.report(&path, at(batch), message);
    }
}

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
