//! The task vocabulary, declared once. Each task type has its own file
//! giving its [`TaskType`] (the properties it takes, which flow-svc's
//! validation enforces, and the checks of their values, reported with line
//! and column) and its typed properties as the executor reads them (a
//! [`Body`] variant). Adding a task type is one file here, a line in
//! [`TYPES`] and in [`Body`], and its run in the executor.
//!
//! Properties are read as Kestra reads them: a plain scalar where a string
//! is expected keeps its text (`message: 1` is "1"). What a value means once
//! rendered (a duration, a whole number) is checked when it is rendered,
//! because a template may produce it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::document::{Located, Node, at, join};
use super::duration::parse_iso_duration;
use super::{is_template, scalar_text, task_types};

mod fail;
mod for_each;
mod for_each_item;
mod r#if;
mod kv_get;
mod kv_set;
mod labels;
mod log;
mod output_values;
mod parallel;
mod pause;
mod r#return;
mod sequential;
mod sleep;
mod subflow;
mod switch;
mod write;

pub use fail::Fail;
pub use for_each::ForEach;
pub use for_each_item::ForEachItemSplit;
pub use r#if::If;
pub use kv_get::KvGet;
pub use kv_set::KvSet;
pub use labels::Labels;
pub use log::Log;
pub use output_values::OutputValues;
pub use parallel::Parallel;
pub use pause::Pause;
pub use r#return::Return;
pub use sleep::Sleep;
pub use subflow::SubflowCall;
pub use switch::Switch;
pub use write::Write;

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    Log,
    Return,
    OutputValues,
    Sequential,
    Parallel,
    If,
    ForEach,
    Sleep,
    Fail,
    KvSet,
    KvGet,
    Write,
    Switch,
    Labels,
    Pause,
    Subflow,
    /// Runs its three inner tasks in sequence, as Kestra lays it out.
    ForEachItem,
    /// Splits the items file into batch files.
    ForEachItemSplit,
    /// Starts a subflow execution per batch and waits for them.
    ForEachItemItems,
    /// Gathers the subflows' outputs into one file.
    ForEachItemMerge,
}

/// A task type as a flow names it, and the properties it takes besides
/// [`COMMON_PROPERTIES`].
#[derive(Debug)]
pub struct TaskType {
    pub name: &'static str,
    pub kind: TaskKind,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
    /// The properties holding lists of child tasks (a flowable task has
    /// at least one; Switch's `cases` map holds lists too).
    pub child_lists: &'static [&'static str],
    /// The checks of its own properties' values when a flow is saved
    /// (which properties it takes, and its child lists, are checked by
    /// the validator from the fields above).
    pub check: fn(&Located<Node>, &str, &mut dyn Checks),
}

/// What a task type's checks need from flow-svc's validator: where to
/// report, the checks shared with the rest of a flow, and nested task
/// lists. The checks of one value (a duration, a boolean) are here.
pub trait Checks {
    /// A problem at `path`, at line and column `at`.
    fn report(&mut self, path: &str, at: (u32, u32), message: String);
    /// A property `owner` does not take.
    fn unknown(&mut self, path: &str, key: &Located<String>, what: &str, owner: &str);
    /// The `labels` of `owner`, when it has some.
    fn labels(&mut self, owner: &Located<Node>, path: &str);
    /// A list of child tasks held other than in a child list (a Switch's
    /// cases), one nesting level down.
    fn nested_tasks(&mut self, tasks: &Located<Node>, path: &str);

    /// `key` of `node`, when present: true or false.
    fn optional_bool(&mut self, node: &Located<Node>, path: &str, key: &str) -> Option<bool> {
        let value = node.value.get(key)?;
        match &value.value {
            Node::Bool(b) => Some(*b),
            other => {
                let message = format!("'{key}' must be true or false, not {}", other.kind());
                self.report(&join(path, key), at(value), message);
                None
            }
        }
    }

    /// `key` of `node`, when present: an ISO-8601 duration, or a template
    /// resolved at run time.
    fn duration(&mut self, node: &Located<Node>, path: &str, key: &str) {
        let Some(value) = node.value.get(key) else {
            return;
        };
        let ok = value
            .value
            .as_str()
            .is_some_and(|text| is_template(text) || parse_iso_duration(text).is_some());
        if !ok {
            let message = format!("{key} must be an ISO-8601 duration such as PT30S or PT1H");
            self.report(&join(path, key), at(value), message);
        }
    }

    /// `key` of `node`, when present: a whole number, 0 or more.
    fn non_negative(&mut self, node: &Located<Node>, path: &str, key: &str) {
        if let Some(value) = node.value.get(key)
            && !matches!(value.value, Node::Int(n) if n >= 0)
        {
            let message = format!("{key} must be a whole number, 0 or more");
            self.report(&join(path, key), at(value), message);
        }
    }
}

/// The check of a task type whose values need none beyond their names.
fn no_checks(_: &Located<Node>, _: &str, _: &mut dyn Checks) {}

impl TaskType {
    /// Whether the task runs child tasks (and is not retried itself:
    /// its children are).
    pub fn is_flowable(&self) -> bool {
        !self.child_lists.is_empty()
    }
}

/// Properties every task may carry.
pub const COMMON_PROPERTIES: &[&str] = &[
    "id",
    "type",
    "description",
    "disabled",
    "timeout",
    "retry",
    "allowFailure",
    "allowWarning",
    "logLevel",
    "runIf",
];

/// Every task type a flow may name.
pub const TYPES: &[&TaskType] = &[
    &log::TYPE,
    &r#return::TYPE,
    &output_values::TYPE,
    &sequential::TYPE,
    &parallel::TYPE,
    &r#if::TYPE,
    &for_each::TYPE,
    &sleep::TYPE,
    &fail::TYPE,
    &kv_set::TYPE,
    &kv_get::TYPE,
    &write::TYPE,
    &switch::TYPE,
    &labels::TYPE,
    &pause::TYPE,
    &subflow::TYPE,
    &for_each_item::TYPE,
];

/// The task type a flow names, older names resolved.
pub fn lookup(type_name: &str) -> Option<&'static TaskType> {
    let name = super::canonical_task_type(type_name);
    TYPES.iter().copied().find(|t| t.name == name)
}

/// A task's own properties, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Log(Log),
    Return(Return),
    OutputValues(OutputValues),
    Sequential,
    Parallel(Parallel),
    If(If),
    ForEach(ForEach),
    Sleep(Sleep),
    Fail(Fail),
    KvSet(KvSet),
    KvGet(KvGet),
    Write(Write),
    Switch(Switch),
    Labels(Labels),
    Pause(Pause),
    Subflow(SubflowCall),
    ForEachItem,
    ForEachItemSplit(ForEachItemSplit),
    ForEachItemItems(SubflowCall),
    ForEachItemMerge,
}

impl Body {
    /// The properties of a task of `kind`, from its mapping (a
    /// ForEachItem's parts read theirs from the ForEachItem's).
    pub fn read(kind: TaskKind, props: &Map<String, Value>) -> Body {
        match kind {
            TaskKind::Log => Body::Log(Log::read(props)),
            TaskKind::Return => Body::Return(Return::read(props)),
            TaskKind::OutputValues => Body::OutputValues(OutputValues::read(props)),
            TaskKind::Sequential => Body::Sequential,
            TaskKind::Parallel => Body::Parallel(Parallel::read(props)),
            TaskKind::If => Body::If(If::read(props)),
            TaskKind::ForEach => Body::ForEach(ForEach::read(props)),
            TaskKind::Sleep => Body::Sleep(Sleep::read(props)),
            TaskKind::Fail => Body::Fail(Fail::read(props)),
            TaskKind::KvSet => Body::KvSet(KvSet::read(props)),
            TaskKind::KvGet => Body::KvGet(KvGet::read(props)),
            TaskKind::Write => Body::Write(Write::read(props)),
            TaskKind::Switch => Body::Switch(Switch::read(props)),
            TaskKind::Labels => Body::Labels(Labels::read(props)),
            TaskKind::Pause => Body::Pause(Pause::read(props)),
            TaskKind::Subflow => Body::Subflow(SubflowCall::read(props)),
            TaskKind::ForEachItem => Body::ForEachItem,
            TaskKind::ForEachItemSplit => Body::ForEachItemSplit(ForEachItemSplit::read(props)),
            TaskKind::ForEachItemItems => Body::ForEachItemItems(SubflowCall::read(props)),
            TaskKind::ForEachItemMerge => Body::ForEachItemMerge,
        }
    }

    pub fn kind(&self) -> TaskKind {
        match self {
            Body::Log(_) => TaskKind::Log,
            Body::Return(_) => TaskKind::Return,
            Body::OutputValues(_) => TaskKind::OutputValues,
            Body::Sequential => TaskKind::Sequential,
            Body::Parallel(_) => TaskKind::Parallel,
            Body::If(_) => TaskKind::If,
            Body::ForEach(_) => TaskKind::ForEach,
            Body::Sleep(_) => TaskKind::Sleep,
            Body::Fail(_) => TaskKind::Fail,
            Body::KvSet(_) => TaskKind::KvSet,
            Body::KvGet(_) => TaskKind::KvGet,
            Body::Write(_) => TaskKind::Write,
            Body::Switch(_) => TaskKind::Switch,
            Body::Labels(_) => TaskKind::Labels,
            Body::Pause(_) => TaskKind::Pause,
            Body::Subflow(_) => TaskKind::Subflow,
            Body::ForEachItem => TaskKind::ForEachItem,
            Body::ForEachItemSplit(_) => TaskKind::ForEachItemSplit,
            Body::ForEachItemItems(_) => TaskKind::ForEachItemItems,
            Body::ForEachItemMerge => TaskKind::ForEachItemMerge,
        }
    }

    /// The subflow a Subflow task, or a ForEachItem's `_items` part, starts.
    pub fn subflow_call(&self) -> Option<&SubflowCall> {
        match self {
            Body::Subflow(call) | Body::ForEachItemItems(call) => Some(call),
            _ => None,
        }
    }
}

/// A property's text where a string (usually a template) is expected.
fn text(props: &Map<String, Value>, name: &str) -> Option<String> {
    match props.get(name)? {
        Value::Null => None,
        value => Some(scalar_text(value).unwrap_or_else(|| value.to_string())),
    }
}

/// A boolean property, `default` when absent or not a boolean.
fn flag(props: &Map<String, Value>, name: &str, default: bool) -> bool {
    props.get(name).and_then(Value::as_bool).unwrap_or(default)
}

/// A property kept as written, to be rendered when the task runs.
fn value(props: &Map<String, Value>, name: &str) -> Option<Value> {
    props.get(name).filter(|v| !v.is_null()).cloned()
}

/// Labels as a mapping, or in Kestra's older list form `[{key, value}]`.
pub fn labels(value: Option<&Value>) -> BTreeMap<String, String> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    };
    match value {
        Some(Value::Object(map)) => map
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), text(v)?)))
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| Some((text(item.get("key")?)?, text(item.get("value")?)?)))
            .collect(),
        _ => BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("a mapping")
    }

    #[test]
    fn every_type_is_found_by_its_name_and_older_names_resolve() {
        for t in TYPES {
            assert_eq!(lookup(t.name).map(|found| found.kind), Some(t.kind));
        }
        for (alias, canonical) in task_types::ALIASES {
            assert_eq!(lookup(alias).map(|t| t.name), Some(*canonical), "{alias}");
        }
        assert!(lookup("io.kestra.plugin.scripts.shell.Commands").is_none());
    }

    #[test]
    fn no_property_is_declared_twice_or_shadows_a_common_one() {
        for t in TYPES {
            let own: Vec<_> = t.required.iter().chain(t.optional).collect();
            for (i, name) in own.iter().enumerate() {
                assert!(!own[i + 1..].contains(name), "{}: {name} twice", t.name);
                assert!(!COMMON_PROPERTIES.contains(name), "{}: {name}", t.name);
            }
            for list in t.child_lists {
                assert!(
                    own.contains(&list),
                    "{}: child list {list} undeclared",
                    t.name
                );
            }
        }
    }

    #[test]
    fn each_kind_reads_back_as_itself() {
        for t in TYPES {
            assert_eq!(Body::read(t.kind, &Map::new()).kind(), t.kind);
        }
        for kind in [
            TaskKind::ForEachItemSplit,
            TaskKind::ForEachItemItems,
            TaskKind::ForEachItemMerge,
        ] {
            assert_eq!(Body::read(kind, &Map::new()).kind(), kind);
        }
    }

    #[test]
    fn scalars_keep_their_text_and_defaults_apply() {
        let body = Body::read(TaskKind::Return, &props(json!({"format": 1})));
        assert_eq!(body, Body::Return(Return { format: "1".into() }));
        let Body::KvSet(set) = Body::read(TaskKind::KvSet, &props(json!({"key": "k"}))) else {
            panic!("a KvSet");
        };
        assert!(set.overwrite, "overwrite defaults to true as in Kestra");
        assert_eq!(set.value, Value::Null);
        let Body::Subflow(call) = Body::read(TaskKind::Subflow, &props(json!({"wait": false})))
        else {
            panic!("a Subflow");
        };
        assert!(!call.wait && call.transmit_failed && !call.inherit_labels);
    }

    /// Records what a task type's checks report, with where.
    #[derive(Default)]
    struct Recorded(Vec<(String, (u32, u32), String)>);

    impl Checks for Recorded {
        fn report(&mut self, path: &str, at: (u32, u32), message: String) {
            self.0.push((path.to_owned(), at, message));
        }
        fn unknown(&mut self, path: &str, key: &Located<String>, what: &str, _: &str) {
            let message = format!("unknown {what} '{}'", key.value);
            self.report(path, (key.line, key.column), message);
        }
        fn labels(&mut self, _: &Located<Node>, path: &str) {
            self.report(path, (0, 0), "labels checked".into());
        }
        fn nested_tasks(&mut self, _: &Located<Node>, path: &str) {
            self.report(path, (0, 0), "tasks checked".into());
        }
    }

    fn check(yaml: &str) -> Vec<(String, (u32, u32), String)> {
        let task = super::super::document::parse(yaml).expect("YAML");
        let kind = task.value.get("type").and_then(|t| t.value.as_str());
        let task_type = lookup(kind.expect("a type")).expect("a known type");
        let mut recorded = Recorded::default();
        (task_type.check)(&task, "tasks[0]", &mut recorded);
        recorded.0
    }

    #[test]
    fn each_type_checks_its_own_values_and_says_where() {
        let found = check("type: io.kestra.plugin.core.flow.Sleep\nduration: soon\n");
        assert_eq!(
            found,
            [(
                "tasks[0].duration".to_owned(),
                (2, 11),
                "duration must be an ISO-8601 duration such as PT30S or PT1H".to_owned()
            )]
        );
        assert!(
            check("type: io.kestra.plugin.core.flow.Sleep\nduration: \"{{ inputs.d }}\"\n")
                .is_empty()
        );
        let found =
            check("type: io.kestra.plugin.core.flow.Switch\nvalue: x\ncases:\n  a: []\n  b: []\n");
        let paths: Vec<_> = found.iter().map(|(path, _, _)| path.as_str()).collect();
        assert_eq!(paths, ["tasks[0].cases.a", "tasks[0].cases.b"]);
        let found = check(
            "type: io.kestra.plugin.core.flow.ForEachItem\nitems: x\nnamespace: Bad\nflowId: f\nbatch:\n  rows: 0\n  lines: 2\n",
        );
        let messages: Vec<_> = found.iter().map(|(_, _, m)| m.as_str()).collect();
        assert!(
            messages[0].starts_with("namespace 'Bad' must match"),
            "{messages:?}"
        );
        assert!(messages.contains(&"labels checked"), "{messages:?}");
        assert!(
            messages.contains(&"rows must be a whole number, 1 or more"),
            "{messages:?}"
        );
        assert!(
            messages.contains(&"unknown property 'lines'"),
            "{messages:?}"
        );
        assert!(check("type: io.kestra.plugin.core.log.Log\nmessage: hi\n").is_empty());
        for kind in ["Subflow", "ForEachItem"] {
            let found = check(&format!(
                "type: io.kestra.plugin.core.flow.{kind}\nitems: x\nnamespace: a\nflowId: f\ntimeout: PT1M\n"
            ));
            assert_eq!(found.len(), 2, "{kind}: {found:?}");
            assert!(
                found[0].2.starts_with("'timeout' is not supported"),
                "{kind}: {found:?}"
            );
        }
    }

    #[test]
    fn labels_read_as_a_mapping_or_a_list() {
        let map = labels(Some(&json!({"a": "x", "n": 1, "skip": null})));
        assert_eq!(map.len(), 2);
        assert_eq!(map["n"], "1");
        let list = labels(Some(&json!([{"key": "a", "value": "x"}, {"key": "b"}])));
        assert_eq!(
            list.into_iter().collect::<Vec<_>>(),
            [("a".into(), "x".into())]
        );
    }
}
