//! kv.Set: stores a value under a KV key of a namespace.

use serde_json::{Map, Value};

use super::{Checks, TaskKind, TaskType, flag, task_types, text, value};
use crate::kestra::document::{Located, Node};

pub const TYPE: TaskType = TaskType {
    name: task_types::KV_SET,
    kind: TaskKind::KvSet,
    required: &["key", "value"],
    optional: &["namespace", "overwrite", "ttl", "kvType"],
    child_lists: &[],
    check,
};

fn check(task: &Located<Node>, path: &str, checks: &mut dyn Checks) {
    checks.duration(task, path, "ttl");
    checks.optional_bool(task, path, "overwrite");
}

#[derive(Debug, Clone, PartialEq)]
pub struct KvSet {
    /// A template.
    pub key: String,
    /// A template; absent is the flow's namespace.
    pub namespace: Option<String>,
    /// Rendered when it runs; null when absent.
    pub value: Value,
    /// A template giving an ISO-8601 duration.
    pub ttl: Option<String>,
    /// The KV type to store the value as; empty infers it.
    pub kv_type: String,
    /// Whether an existing key is replaced (Kestra's default: true).
    pub overwrite: bool,
}

impl KvSet {
    pub(super) fn read(props: &Map<String, Value>) -> KvSet {
        KvSet {
            key: text(props, "key").unwrap_or_default(),
            namespace: text(props, "namespace"),
            value: value(props, "value").unwrap_or(Value::Null),
            ttl: text(props, "ttl"),
            kv_type: text(props, "kvType").unwrap_or_default(),
            overwrite: flag(props, "overwrite", true),
        }
    }
}
