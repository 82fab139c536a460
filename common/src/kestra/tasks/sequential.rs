//! Sequential: runs its tasks one after the other.

use super::{TaskKind, TaskType, task_types};

pub const TYPE: TaskType = TaskType {
    name: task_types::SEQUENTIAL,
    kind: TaskKind::Sequential,
    required: &["tasks"],
    optional: &["errors", "finally"],
    child_lists: &["tasks", "errors", "finally"],
    check: super::no_checks,
};
