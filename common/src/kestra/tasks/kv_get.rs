//! kv.Get: reads a KV key of a namespace into its `value` output.

use serde_json::{Map, Value};

use super::{Checks, TaskKind, TaskType, flag, task_types, text};
use crate::kestra::document::{Located, Node};

pub const TYPE: TaskType = TaskType {
    name: task_types::KV_GET,
    kind: TaskKind::KvGet,
    required: &["key"],
    optional: &["namespace", "errorOnMissing"],
    child_lists: &[],
    check,
};

fn check(task: &Located<Node>, path: &str, checks: &mut dyn Checks) {
    checks.optional_bool(task, path, "errorOnMissing");
}

#[derive(Debug, Clone, PartialEq)]
pub struct KvGet {
    /// A template.
    pub key: String,
    /// A template; absent is the flow's namespace.
    pub namespace: Option<String>,
    /// Whether a missing key fails the task (else the value is null).
    pub error_on_missing: bool,
}

impl KvGet {
    pub(super) fn read(props: &Map<String, Value>) -> KvGet {
        KvGet {
            key: text(props, "key").unwrap_or_default(),
            namespace: text(props, "namespace"),
            error_on_missing: flag(props, "errorOnMissing", false),
        }
    }
}
