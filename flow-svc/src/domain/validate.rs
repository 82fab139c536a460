//! Flow validation: the rules a Kestra flow must follow to be stored. Every
//! problem found becomes a [`Finding`]; a flow with none becomes a
//! [`ParsedFlow`], whose parts the repository stores beside the source.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use super::document::{self, Finding, Located, Node, at, join};
use super::{id_problem, namespace_problem, shorten};
use aerie_common::kestra::is_template;

/// A valid flow: what is stored beside its source.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedFlow {
    pub namespace: String,
    pub id: String,
    pub description: String,
    pub labels: BTreeMap<String, String>,
    pub disabled: bool,
    /// `deleted: true`: the source is a deleted flow, as Kestra exports
    /// one; an import deletes the flow of that id.
    pub deleted: bool,
    pub triggers: Vec<TriggerDefinition>,
}

/// A trigger as declared in a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerDefinition {
    pub id: String,
    pub kind: String,
    pub cron: String,
    pub timezone: String,
    pub disabled: bool,
    /// The trigger's properties, as JSON.
    pub definition: serde_json::Value,
}

/// What validation says about a source.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The id and namespace when the YAML names them as strings.
    pub id: String,
    pub namespace: String,
    pub findings: Vec<Finding>,
    pub flow: Option<ParsedFlow>,
}

use aerie_common::kestra::condition_types;
use aerie_common::kestra::inputs::{InputDef, MAX_INPUTS};
pub use aerie_common::kestra::{INPUT_TYPES, task_types, trigger_types};
use aerie_common::kestra::{
    LOG_LEVELS, MAX_TASK_NESTING,
    concurrency::Concurrency,
    retry::Retry,
    sla::Sla,
    tasks::{self, Checks, TaskType},
};

/// Kestra properties Aerie knows but does not carry out. Accepting one
/// would let a migrating team believe it is in force, so each is refused
/// at creation with what to do instead.
const NOT_SUPPORTED: &[(&str, &str)] = &[
    ("logToFile", "task logs are always stored as log lines"),
    ("kvDescription", "KV entries keep no description"),
    ("workerGroup", "every worker runs every tenant's tasks"),
    ("checks", "flow checks are not built"),
    (
        "afterExecution",
        "use finally, which runs before the execution ends",
    ),
    (
        "conditions",
        "Schedule conditions are not built (a Webhook takes Expression conditions)",
    ),
    ("backfill", "schedule backfills are not built"),
    (
        "lateMaximumDelay",
        "a tick up to a minute late fires; after longer downtime only the latest missed tick fires",
    ),
    ("stopAfter", "triggers are not disabled by execution states"),
    (
        "wait",
        "start the execution with POST .../executions/{namespace}/{id}?wait=true instead",
    ),
    (
        "returnOutputs",
        "read the outputs from GET .../executions/{id}",
    ),
    (
        "scheduleDate",
        "a subflow execution starts at once (a Schedule trigger on the subflow runs it later)",
    ),
];

/// The reason a Kestra property is refused, when it is one Aerie knows.
fn not_supported(key: &str) -> Option<&'static str> {
    NOT_SUPPORTED
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, why)| *why)
}

fn not_supported_message(key: &str, why: &str) -> String {
    format!("'{key}' is a Kestra property that Aerie does not support: {why}")
}

const FLOW_PROPERTIES: &[&str] = &[
    "id",
    "namespace",
    "revision",
    "description",
    "labels",
    "inputs",
    "outputs",
    "variables",
    "tasks",
    "errors",
    "finally",
    "triggers",
    "disabled",
    "deleted",
    "retry",
    "concurrency",
    "sla",
    "pluginDefaults",
    "taskDefaults",
];

/// Validates a flow source: every finding, and the flow when there is none.
pub fn check(source: &str) -> Report {
    let mut checker = Checker::default();
    let mut root = match document::parse(source) {
        Ok(root) => root,
        Err(finding) => {
            return Report {
                id: String::new(),
                namespace: String::new(),
                findings: vec![finding],
                flow: None,
            };
        }
    };
    // Tasks are checked as they will run: with the flow's plugin defaults.
    checker.plugin_defaults(&mut root);
    let flow = checker.flow(&root);
    let text = |key| {
        root.value
            .get(key)
            .and_then(|n| n.value.text())
            .unwrap_or_default()
    };
    let mut findings = checker.findings;
    // The executor's model, built from what passed: a flow accepted here is
    // one that runs (the checks above say where each problem is; this says
    // what they missed, were they ever to disagree).
    if findings.is_empty()
        && let Err(problem) = aerie_common::kestra::flow::Plan::parse(source)
    {
        findings.push(Finding {
            path: String::new(),
            line: root.line,
            column: root.column,
            message: problem.to_string(),
        });
    }
    Report {
        id: text("id"),
        namespace: text("namespace"),
        flow: flow.filter(|_| findings.is_empty()),
        findings,
    }
}

/// The stored parts of a source that was valid when saved (an old revision
/// read back), whatever today's rules say about it.
pub fn summarize(source: &str) -> Option<ParsedFlow> {
    let root = document::parse(source).ok()?;
    Checker::default().flow(&root)
}

#[derive(Default)]
struct Checker {
    findings: Vec<Finding>,
    /// Task ids seen so far, with the path of the first use.
    task_ids: HashMap<String, String>,
    /// The flow's declared inputs, read (schedules' inputs are checked
    /// against them).
    inputs: Vec<InputDef>,
    /// Flowable tasks around the task being checked.
    nesting: usize,
}

/// Plugin defaults applied to the located tree, as
/// [`aerie_common::kestra::plugin_defaults`] applies them to the JSON the
/// executor runs: what a default adds keeps the default's place in the
/// source, so a finding about it points there.
mod defaults {
    use super::{Located, Node};
    use aerie_common::kestra::plugin_defaults::PluginDefault;

    pub(super) fn apply_within(
        node: &mut Located<Node>,
        defaults: &[(PluginDefault, Located<Node>)],
    ) {
        match &mut node.value {
            Node::Map(entries) => {
                for (_, child) in entries.iter_mut() {
                    apply_within(child, defaults);
                }
                let kind = entries
                    .iter()
                    .find(|(k, _)| k.value == "type")
                    .and_then(|(_, v)| v.value.as_str().map(str::to_owned));
                let Some(kind) = kind else {
                    return;
                };
                let matching: Vec<_> = defaults
                    .iter()
                    .filter(|(d, _)| d.applies_to(&kind))
                    .collect();
                for (_, values) in matching.iter().filter(|(d, _)| !d.forced) {
                    merge(entries, values, false);
                }
                for (_, values) in matching.iter().rev().filter(|(d, _)| d.forced) {
                    merge(entries, values, true);
                }
            }
            Node::Seq(items) => {
                for item in items {
                    apply_within(item, defaults);
                }
            }
            _ => {}
        }
    }

    /// Deep merge of `values` into `entries`: what is missing is added; with
    /// `force`, what is there is replaced too.
    fn merge(
        entries: &mut Vec<(Located<String>, Located<Node>)>,
        values: &Located<Node>,
        force: bool,
    ) {
        let Node::Map(more) = &values.value else {
            return;
        };
        for (key, value) in more {
            match entries.iter_mut().find(|(k, _)| k.value == key.value) {
                Some((_, existing)) => match (&mut existing.value, &value.value) {
                    (Node::Map(inner), Node::Map(_)) => merge(inner, value, force),
                    _ if force => *existing = value.clone(),
                    _ => {}
                },
                None => entries.push((key.clone(), value.clone())),
            }
        }
    }
}

impl Checker {
    /// Reads the flow's `pluginDefaults` and `taskDefaults` and applies them
    /// to every mapping with a `type`, so each task is checked with them.
    fn plugin_defaults(&mut self, root: &mut Located<Node>) {
        use aerie_common::kestra::plugin_defaults::{self, KEYS};
        let mut found = serde_json::Map::new();
        let mut places = Vec::new();
        for key in KEYS {
            if let Some(node) = root.value.get(key) {
                found.insert(key.to_owned(), node.value.to_json());
                if let Node::Seq(items) = &node.value {
                    places.extend(items.iter().map(|item| {
                        item.value
                            .get("values")
                            .cloned()
                            .unwrap_or_else(|| item.clone())
                    }));
                }
            }
        }
        if found.is_empty() {
            return;
        }
        let parsed = match plugin_defaults::parse(&found) {
            Ok(parsed) => parsed,
            Err(problem) => {
                let key = KEYS
                    .iter()
                    .find(|k| problem.starts_with(*k))
                    .copied()
                    .unwrap_or(KEYS[0]);
                let at = root.value.get(key).map_or((0, 0), at);
                self.report(key, at, problem);
                return;
            }
        };
        let defaults: Vec<_> = parsed.into_iter().zip(places).collect();
        if let Node::Map(entries) = &mut root.value {
            for (key, value) in entries.iter_mut() {
                if !KEYS.contains(&key.value.as_str()) {
                    defaults::apply_within(value, &defaults);
                }
            }
        }
    }

    fn report(&mut self, path: &str, at: (u32, u32), message: impl Into<String>) {
        self.findings.push(Finding {
            path: path.to_owned(),
            line: at.0,
            column: at.1,
            message: message.into(),
        });
    }

    /// A property outside the supported set: refused, with the reason when
    /// it is a Kestra property Aerie does not carry out.
    fn unknown(&mut self, path: &str, key: &Located<String>, what: &str, owner: &str) {
        let message = match not_supported(&key.value) {
            Some(why) => not_supported_message(&key.value, why),
            None if owner.is_empty() => format!("unknown {what} '{}'", shorten(&key.value)),
            None => format!("unknown {what} '{}' for {owner}", shorten(&key.value)),
        };
        self.report(path, (key.line, key.column), message);
    }

    /// A `retry` policy, read by the same code the executor uses.
    fn retry(&mut self, node: &Located<Node>, path: &str) {
        if let Some(retry) = node.value.get("retry")
            && let Err(problem) = Retry::parse(&retry.value.to_json())
        {
            self.report(&join(path, "retry"), at(retry), problem);
        }
    }

    fn flow(&mut self, root: &Located<Node>) -> Option<ParsedFlow> {
        let Node::Map(entries) = &root.value else {
            self.report(
                "",
                at(root),
                format!("a flow must be a mapping, not {}", root.value.kind()),
            );
            return None;
        };
        for (key, _) in entries {
            if !FLOW_PROPERTIES.contains(&key.value.as_str()) {
                self.unknown(&key.value, key, "flow property", "");
            }
        }
        self.retry(root, "");
        if let Some(concurrency) = root.value.get("concurrency")
            && let Err(problem) = Concurrency::parse(&concurrency.value.to_json())
        {
            self.report("concurrency", at(concurrency), problem);
        }
        if let Some(sla) = root.value.get("sla")
            && let Err(problem) = Sla::parse_all(&sla.value.to_json())
        {
            self.report("sla", at(sla), problem);
        }
        let id = self.required_string(root, "", "id");
        if let Some(id) = &id
            && let Some(problem) = id_problem("flow id", &id.value, 100)
        {
            self.report("id", at(id), problem);
        }
        let namespace = self.required_string(root, "", "namespace");
        if let Some(namespace) = &namespace
            && let Some(problem) = namespace_problem(&namespace.value)
        {
            self.report("namespace", at(namespace), problem);
        }
        let description = self.optional_string(root, "", "description");
        let disabled = self.optional_bool(root, "", "disabled");
        let deleted = self.optional_bool(root, "", "deleted");
        let labels = self.labels(root, "");
        self.inputs(root);
        self.outputs(root);
        match root.value.get("tasks") {
            None => self.report(
                "tasks",
                at(root),
                "a flow needs tasks: a list of at least one task",
            ),
            Some(tasks) => self.task_list(tasks, "tasks", true),
        }
        for key in ["errors", "finally"] {
            if let Some(tasks) = root.value.get(key) {
                self.task_list(tasks, key, false);
            }
        }
        if let Some(variables) = root.value.get("variables")
            && !matches!(variables.value, Node::Map(_))
        {
            self.report("variables", at(variables), "variables must be a mapping");
        }
        let triggers = self.triggers(root);
        self.templates(root, "");
        Some(ParsedFlow {
            namespace: namespace?.value,
            id: id?.value,
            description: description.unwrap_or_default(),
            labels,
            disabled: disabled.unwrap_or(false),
            deleted: deleted.unwrap_or(false),
            triggers,
        })
    }

    fn required_string(
        &mut self,
        node: &Located<Node>,
        path: &str,
        key: &str,
    ) -> Option<Located<String>> {
        let full = join(path, key);
        match node.value.get(key) {
            None => {
                self.report(&full, at(node), format!("'{key}' is required"));
                None
            }
            // A number or boolean is its text, as Kestra reads it.
            Some(value) => match value.value.text() {
                Some(text) if !text.is_empty() => Some(Located {
                    value: text,
                    line: value.line,
                    column: value.column,
                }),
                _ => {
                    let other = &value.value;
                    self.report(
                        &full,
                        at(value),
                        format!("'{key}' must be a non-empty string, not {}", other.kind()),
                    );
                    None
                }
            },
        }
    }

    fn optional_string(&mut self, node: &Located<Node>, path: &str, key: &str) -> Option<String> {
        let value = node.value.get(key)?;
        match &value.value {
            Node::Null => None,
            scalar if scalar.text().is_some() => scalar.text(),
            other => {
                self.report(
                    &join(path, key),
                    at(value),
                    format!("'{key}' must be a string, not {}", other.kind()),
                );
                None
            }
        }
    }

    fn labels(&mut self, owner: &Located<Node>, path: &str) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::new();
        let Some(node) = owner.value.get("labels") else {
            return labels;
        };
        let path = join(path, "labels");
        match &node.value {
            Node::Map(entries) => {
                for (key, value) in entries {
                    match scalar_text(&value.value) {
                        Some(text) => {
                            labels.insert(key.value.clone(), text);
                        }
                        None => self.report(
                            &format!("{path}.{}", key.value),
                            at(value),
                            "a label value must be a string, number or boolean",
                        ),
                    }
                }
            }
            // The older list form: [{key: k, value: v}].
            Node::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let key = item.value.get("key").and_then(|k| scalar_text(&k.value));
                    let value = item.value.get("value").and_then(|v| scalar_text(&v.value));
                    match (key, value) {
                        (Some(key), Some(value)) if !key.is_empty() => {
                            labels.insert(key, value);
                        }
                        _ => self.report(
                            &format!("{path}[{i}]"),
                            at(item),
                            "a label must have a key and a value",
                        ),
                    }
                }
            }
            other => self.report(
                &path,
                at(node),
                format!("labels must be a mapping, not {}", other.kind()),
            ),
        }
        // Kestra's rule, in its words: `system.` labels are the product's.
        for (key, value) in &labels {
            // A flow's own `system.readOnly` (Kestra's one exception): its
            // web UI page shows the source read-only, for flows kept in git
            // and changed through the API.
            if key == aerie_common::kestra::READ_ONLY_LABEL && path == "labels" {
                if !["true", "false"].contains(&value.as_str()) {
                    self.report(
                        &format!("labels.{key}"),
                        at(node),
                        format!("'{key}' is true or false, not '{value}'"),
                    );
                }
            } else if key.starts_with("system.") {
                self.report(
                    &format!("{path}.{key}"),
                    at(node),
                    format!(
                        "System labels can only be set by Kestra itself, offending label: {key}={value}"
                    ),
                );
            }
        }
        labels
    }

    fn inputs(&mut self, root: &Located<Node>) {
        let Some(node) = root.value.get("inputs") else {
            return;
        };
        let Node::Seq(items) = &node.value else {
            self.report("inputs", at(node), "inputs must be a list");
            return;
        };
        if items.len() > MAX_INPUTS {
            self.report(
                "inputs",
                at(node),
                format!(
                    "a flow declares at most {MAX_INPUTS} inputs, not {}",
                    items.len()
                ),
            );
            return;
        }
        let mut seen = HashMap::new();
        for (i, input) in items.iter().enumerate() {
            let path = format!("inputs[{i}]");
            if !matches!(input.value, Node::Map(_)) {
                self.report(
                    &path,
                    at(input),
                    "an input must be a mapping with an id and a type",
                );
                continue;
            }
            // The executor reads the declaration with this same code.
            let declared = match InputDef::parse(&input.value.to_json()) {
                Ok(declared) => declared,
                Err(problem) => {
                    let place = input.value.get(problem.property).unwrap_or(input);
                    let full = match problem.property {
                        "" => path.clone(),
                        property => join(&path, property),
                    };
                    self.report(&full, at(place), problem.message);
                    continue;
                }
            };
            self.inputs.push(declared.clone());
            let id_node = input
                .value
                .get("id")
                .or_else(|| input.value.get("name"))
                .unwrap_or(input);
            self.unique_id("input", &declared.id, &path, id_node, &mut seen);
        }
    }

    /// Checks a declared input's or output's id: well formed, and not
    /// used by an earlier one (`seen` maps ids to their first path).
    fn unique_id(
        &mut self,
        what: &str,
        id: &str,
        path: &str,
        id_node: &Located<Node>,
        seen: &mut HashMap<String, String>,
    ) {
        if let Some(problem) = id_problem(&format!("{what} id"), id, 100) {
            self.report(&join(path, "id"), at(id_node), problem);
        } else if let Some(first) = seen.insert(id.to_owned(), path.to_owned()) {
            self.report(
                &join(path, "id"),
                at(id_node),
                format!("{what} id '{id}' is already used by {first}"),
            );
        }
    }

    /// The flow's `outputs`: read with the executor's own code
    /// ([`aerie_common::kestra::outputs`]), each finding at its place.
    fn outputs(&mut self, root: &Located<Node>) {
        let Some(node) = root.value.get("outputs") else {
            return;
        };
        let Node::Seq(items) = &node.value else {
            self.report("outputs", at(node), "outputs must be a list");
            return;
        };
        let mut seen = HashMap::new();
        for (i, output) in items.iter().enumerate() {
            let path = format!("outputs[{i}]");
            match aerie_common::kestra::outputs::OutputDef::parse(&output.value.to_json()) {
                Ok(declared) => {
                    let id_node = output.value.get("id").unwrap_or(output);
                    self.unique_id("output", &declared.id, &path, id_node, &mut seen);
                }
                Err((property, why)) => {
                    let place = output.value.get(property).unwrap_or(output);
                    let full = match property {
                        "" => path.clone(),
                        property => join(&path, property),
                    };
                    self.report(&full, at(place), why);
                }
            }
        }
    }

    fn task_list(&mut self, node: &Located<Node>, path: &str, non_empty: bool) {
        let Node::Seq(items) = &node.value else {
            self.report(
                path,
                at(node),
                format!("{path} must be a list of tasks, not {}", node.value.kind()),
            );
            return;
        };
        if non_empty && items.is_empty() {
            self.report(
                path,
                at(node),
                format!("{path} must hold at least one task"),
            );
        }
        for (i, task) in items.iter().enumerate() {
            self.task(task, &format!("{path}[{i}]"));
        }
    }

    fn task(&mut self, task: &Located<Node>, path: &str) {
        let Node::Map(entries) = &task.value else {
            self.report(
                path,
                at(task),
                format!("a task must be a mapping, not {}", task.value.kind()),
            );
            return;
        };
        if let Some(id) = self.required_string(task, path, "id") {
            if let Some(problem) = id_problem("task id", &id.value, 100) {
                self.report(&join(path, "id"), at(&id), problem);
            } else if let Some(first) = self.task_ids.insert(id.value.clone(), path.to_owned()) {
                self.report(
                    &join(path, "id"),
                    at(&id),
                    format!("task id '{}' is already used by {first}; task ids must be unique in a flow", id.value),
                );
            }
            // A ForEachItem's own task runs take three more ids.
            let is_for_each_item = task
                .value
                .get("type")
                .and_then(|t| t.value.as_str())
                .and_then(tasks::lookup)
                .is_some_and(|t| t.kind == tasks::TaskKind::ForEachItem);
            if is_for_each_item {
                for suffix in ["_split", "_items", "_merge"] {
                    let inner = format!("{}{suffix}", id.value);
                    let mine = format!("{path} (its {suffix} task run)");
                    if let Some(first) = self.task_ids.insert(inner.clone(), mine) {
                        self.report(
                            &join(path, "id"),
                            at(&id),
                            format!("task id '{inner}', which this ForEachItem gives its {suffix} task run, is already used by {first}"),
                        );
                    }
                }
            }
        }
        let Some(kind) = self.required_string(task, path, "type") else {
            return;
        };
        let Some(spec) = tasks::lookup(&kind.value) else {
            self.report(
                &join(path, "type"),
                at(&kind),
                format!(
                    "unknown task type '{}': not supported by Aerie",
                    shorten(&kind.value)
                ),
            );
            return;
        };
        let name = spec.name;
        for (key, _) in entries {
            let known = tasks::COMMON_PROPERTIES.contains(&key.value.as_str())
                || spec.required.contains(&key.value.as_str())
                || spec.optional.contains(&key.value.as_str());
            if !known {
                self.unknown(&join(path, &key.value), key, "property", name);
            }
        }
        for required in spec.required {
            if task.value.get(required).is_none() {
                self.report(
                    &join(path, required),
                    at(task),
                    format!("'{required}' is required for {name}"),
                );
            }
        }
        let has_children = spec.child_lists.iter().chain(&["cases"]).any(|list| {
            task.value
                .get(list)
                .is_some_and(|children| !matches!(children.value, Node::Null))
        });
        if has_children && self.nesting >= MAX_TASK_NESTING {
            self.report(
                path,
                at(task),
                format!(
                    "tasks are nested more than {MAX_TASK_NESTING} flowable tasks deep here; Aerie runs at most {MAX_TASK_NESTING} levels (split the flow with a Subflow task)"
                ),
            );
        } else {
            self.nesting += 1;
            for list in spec.child_lists {
                match task.value.get(list) {
                    // `defaults: null`, as Kestra reads it: no tasks.
                    Some(children)
                        if matches!(children.value, Node::Null) && spec.required.contains(list) =>
                    {
                        let path = join(path, list);
                        let problem = format!("{path} must hold at least one task");
                        self.report(&path, at(children), problem);
                    }
                    Some(children) if matches!(children.value, Node::Null) => {}
                    Some(children) => {
                        let required = spec.required.contains(list);
                        self.task_list(children, &join(path, list), required);
                    }
                    None => {}
                }
            }
            self.nesting -= 1;
        }
        self.task_properties(task, path, spec);
    }

    /// Checks that need to know the property's meaning.
    fn task_properties(&mut self, task: &Located<Node>, path: &str, task_type: &TaskType) {
        self.duration(task, path, "timeout");
        self.retry(task, path);
        self.optional_bool(task, path, "disabled");
        self.optional_bool(task, path, "allowFailure");
        self.optional_bool(task, path, "allowWarning");
        if let Some(level) = task.value.get("logLevel")
            && !level
                .value
                .as_str()
                .is_some_and(|l| LOG_LEVELS.contains(&l))
        {
            self.report(
                &join(path, "logLevel"),
                at(level),
                format!("logLevel must be one of {}", LOG_LEVELS.join(", ")),
            );
        }
        (task_type.check)(task, path, self);
    }

    fn triggers(&mut self, root: &Located<Node>) -> Vec<TriggerDefinition> {
        let mut triggers = Vec::new();
        let Some(node) = root.value.get("triggers") else {
            return triggers;
        };
        let Node::Seq(items) = &node.value else {
            self.report("triggers", at(node), "triggers must be a list");
            return triggers;
        };
        let mut seen = HashMap::new();
        for (i, trigger) in items.iter().enumerate() {
            let path = format!("triggers[{i}]");
            let Node::Map(entries) = &trigger.value else {
                self.report(&path, at(trigger), "a trigger must be a mapping");
                continue;
            };
            let id = self.required_string(trigger, &path, "id");
            if let Some(id) = &id {
                if let Some(problem) = id_problem("trigger id", &id.value, 100) {
                    self.report(&join(&path, "id"), at(id), problem);
                } else if let Some(first) = seen.insert(id.value.clone(), path.clone()) {
                    self.report(
                        &join(&path, "id"),
                        at(id),
                        format!("trigger id '{}' is already used by {first}", id.value),
                    );
                }
            }
            let Some(kind) = self.required_string(trigger, &path, "type") else {
                continue;
            };
            // Older names are stored as today's, so every reader knows them.
            let kind = Located {
                value: trigger_types::canonical(&kind.value).to_owned(),
                ..kind
            };
            let Some(allowed) = aerie_common::kestra::triggers::properties(&kind.value) else {
                self.report(
                    &join(&path, "type"),
                    at(&kind),
                    format!(
                        "unknown trigger type '{}': not supported by Aerie",
                        shorten(&kind.value)
                    ),
                );
                continue;
            };
            for (key, _) in entries {
                if !allowed.contains(&key.value.as_str()) {
                    self.unknown(&join(&path, &key.value), key, "property", &kind.value);
                }
            }
            if let Some(recover) = trigger.value.get("recoverMissedSchedules")
                && recover.value.as_str() != Some("LAST")
            {
                self.report(
                    &join(&path, "recoverMissedSchedules"),
                    at(recover),
                    "recoverMissedSchedules must be LAST: after downtime Aerie fires the latest missed tick only (ALL and NONE are not supported)",
                );
            }
            let disabled = self
                .optional_bool(trigger, &path, "disabled")
                .unwrap_or(false);
            let (mut cron, mut timezone) = (String::new(), String::new());
            if kind.value == trigger_types::SCHEDULE {
                self.labels(trigger, &path);
                self.schedule_inputs(trigger, &path);
                let with_seconds = self
                    .optional_bool(trigger, &path, "withSeconds")
                    .unwrap_or(false);
                if let Some(expression) = self.required_string(trigger, &path, "cron") {
                    match cron_problem(&expression.value, with_seconds) {
                        Some(problem) => {
                            self.report(&join(&path, "cron"), at(&expression), problem)
                        }
                        None => cron = expression.value,
                    }
                }
                if let Some(zone) = self.optional_string(trigger, &path, "timezone") {
                    if chrono_tz::Tz::from_str(&zone).is_ok() {
                        timezone = zone;
                    } else if let Some(node) = trigger.value.get("timezone") {
                        self.report(
                            &join(&path, "timezone"),
                            at(node),
                            format!(
                                "unknown time zone '{}'; use an IANA name such as Europe/Paris",
                                shorten(&zone)
                            ),
                        );
                    }
                }
            } else if kind.value == trigger_types::FLOW {
                // Unknown keys were reported above, with their reasons.
                let known = entries
                    .iter()
                    .all(|(key, _)| allowed.contains(&key.value.as_str()));
                if known
                    && let Err(problem) = aerie_common::kestra::flow_trigger::FlowTrigger::parse(
                        &trigger.value.to_json(),
                    )
                {
                    self.report(&path, at(trigger), problem);
                }
            } else {
                if let Some(key) = self.required_string(trigger, &path, "key")
                    && key.value.len() > 256
                {
                    self.report(
                        &join(&path, "key"),
                        at(&key),
                        "a webhook key is at most 256 characters",
                    );
                }
                self.conditions(trigger, &path);
            }
            if let Some(id) = id {
                triggers.push(TriggerDefinition {
                    id: id.value,
                    kind: kind.value,
                    cron,
                    timezone,
                    disabled,
                    definition: trigger.value.to_json(),
                });
            }
        }
        triggers
    }

    /// A Webhook's `conditions`: Expression conditions only.
    fn conditions(&mut self, trigger: &Located<Node>, path: &str) {
        let Some(node) = trigger.value.get("conditions") else {
            return;
        };
        let path = join(path, "conditions");
        let Node::Seq(items) = &node.value else {
            self.report(&path, at(node), "conditions must be a list");
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let path = format!("{path}[{i}]");
            let Node::Map(entries) = &item.value else {
                self.report(&path, at(item), "a condition must be a mapping");
                continue;
            };
            let Some(kind) = self.required_string(item, &path, "type") else {
                continue;
            };
            if !condition_types::NAMES.contains(&kind.value.as_str()) {
                self.report(
                    &join(&path, "type"),
                    at(&kind),
                    format!(
                        "condition type '{}' is not supported by Aerie; a Webhook takes {}",
                        shorten(&kind.value),
                        condition_types::EXPRESSION
                    ),
                );
                continue;
            }
            self.required_string(item, &path, "expression");
            for (key, _) in entries {
                if !["type", "expression"].contains(&key.value.as_str()) {
                    self.unknown(&join(&path, &key.value), key, "property", &kind.value);
                }
            }
        }
    }

    /// A Schedule's `inputs`: values given as written (they are not
    /// templates here, so a template in one is refused rather than passed
    /// on unrendered).
    fn schedule_inputs(&mut self, trigger: &Located<Node>, path: &str) {
        let Some(inputs) = trigger.value.get("inputs") else {
            return;
        };
        let Node::Map(entries) = &inputs.value else {
            self.report(
                &join(path, "inputs"),
                at(inputs),
                "a schedule's inputs must be a mapping of input ids to values",
            );
            return;
        };
        for (key, value) in entries {
            let here = format!("{path}.inputs.{}", key.value);
            if value.value.to_json().to_string().contains("{{") {
                self.report(
                    &here,
                    at(value),
                    "a schedule's input values are taken as written; templates are not rendered here",
                );
                continue;
            }
            // Checked now as each tick would check them.
            let problem = match self.inputs.iter().find(|d| d.id == key.value) {
                None => Some(format!("unknown input '{}'", shorten(&key.value))),
                Some(declared) if declared.kind == "FILE" => {
                    Some("a schedule cannot give a FILE input".to_owned())
                }
                Some(declared) => declared.check(value.value.to_json()).err(),
            };
            if let Some(problem) = problem {
                self.report(&here, at(value), problem);
            }
        }
    }

    /// Every string holding `{{`, `{%` or `{#` must be a well-formed template.
    fn templates(&mut self, node: &Located<Node>, path: &str) {
        match &node.value {
            Node::Str(text) if is_template(text) => {
                if let Some(problem) = template_problem(text) {
                    self.report(path, at(node), problem);
                }
            }
            Node::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.templates(item, &format!("{path}[{i}]"));
                }
            }
            Node::Map(entries) => {
                for (key, value) in entries {
                    self.templates(value, &join(path, &key.value));
                }
            }
            _ => {}
        }
    }
}

/// The validator as task types' own checks see it.
impl Checks for Checker {
    fn report(&mut self, path: &str, at: (u32, u32), message: String) {
        Checker::report(self, path, at, message);
    }

    fn unknown(&mut self, path: &str, key: &Located<String>, what: &str, owner: &str) {
        Checker::unknown(self, path, key, what, owner);
    }

    fn labels(&mut self, owner: &Located<Node>, path: &str) {
        Checker::labels(self, owner, path);
    }

    fn nested_tasks(&mut self, tasks: &Located<Node>, path: &str) {
        // Deeper than the limit is reported for the task holding them.
        if self.nesting < MAX_TASK_NESTING {
            self.nesting += 1;
            self.task_list(tasks, path, true);
            self.nesting -= 1;
        }
    }
}

fn scalar_text(node: &Node) -> Option<String> {
    match node {
        Node::Str(s) => Some(s.clone()),
        Node::Int(i) => Some(i.to_string()),
        Node::Float(x) => Some(x.to_string()),
        Node::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Why `text` is not a well-formed template (syntax only: names are
/// resolved when a flow runs).
pub fn template_problem(text: &str) -> Option<String> {
    let unknown = aerie_common::kestra::pebble::unknown_names(text);
    if !unknown.is_empty() {
        return Some(format!(
            "the template uses {}, which Aerie does not support",
            unknown.join(", ")
        ));
    }
    if let Some(problem) = aerie_common::kestra::pebble::jq_problem(text) {
        return Some(problem);
    }
    let env = minijinja::Environment::new();
    let text = aerie_common::kestra::pebble::translate(text);
    env.template_from_str(&text).err().map(|err| {
        let line = err
            .line()
            .map(|l| format!(" at template line {l}"))
            .unwrap_or_default();
        let detail = err.detail().unwrap_or("syntax error");
        // Pebble lets a `{% %}` block sit inside `{{ }}`; Aerie does not.
        let nested_block = text
            .split("{{")
            .skip(1)
            .any(|part| part.split("}}").next().is_some_and(|inside| inside.contains("{%")));
        if nested_block {
            return format!(
                "invalid template{line}: a {{% %}} block inside {{{{ }}}} is not supported by Aerie; end the expression before the block"
            );
        }
        format!("invalid template{line}: {detail}")
    })
}

/// Why a cron expression is not acceptable: five fields (six with
/// `withSeconds: true`) or a nickname such as `@daily`.
pub fn cron_problem(expression: &str, with_seconds: bool) -> Option<String> {
    let trimmed = expression.trim();
    let fields = trimmed.split_whitespace().count();
    let expected = if with_seconds { 6 } else { 5 };
    if !trimmed.starts_with('@') && fields != expected {
        return Some(format!(
            "cron '{}' must have {expected} fields (minute hour day-of-month month day-of-week{})",
            shorten(expression),
            if with_seconds {
                ", preceded by seconds"
            } else {
                ""
            }
        ));
    }
    croner::Cron::from_str(trimmed)
        .err()
        .map(|err| format!("invalid cron '{}': {err}", shorten(expression)))
}

/// Why an input default does not fit its type (templates are not checked).
#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = r#"id: hello
namespace: company.team
labels:
  env: prod
inputs:
  - id: user
    type: STRING
    defaults: world
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{ inputs.user }} from {{ flow.namespace }}"
  - id: branch
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT1S
      - id: out
        type: io.kestra.plugin.core.debug.Return
        format: "{{ execution.id }}"
triggers:
  - id: daily
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    timezone: Europe/Paris
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: s3cr3t
"#;

    fn findings(source: &str) -> Vec<Finding> {
        check(source).findings
    }

    fn only(source: &str) -> Finding {
        let mut all = findings(source);
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    /// A flow whose Return sits inside `levels` Sequential tasks.
    fn nested(levels: usize) -> String {
        let mut yaml = String::from("id: deep\nnamespace: a.b\ntasks:\n");
        for level in 0..levels {
            let pad = "    ".repeat(level);
            yaml.push_str(&format!(
                "{pad}  - id: s{level}\n{pad}    type: io.kestra.plugin.core.flow.Sequential\n{pad}    tasks:\n"
            ));
        }
        let pad = "    ".repeat(levels);
        yaml.push_str(&format!(
            "{pad}  - id: leaf\n{pad}    type: io.kestra.plugin.core.debug.Return\n{pad}    format: x\n"
        ));
        yaml
    }

    #[test]
    fn a_block_inside_an_expression_is_refused_by_name() {
        let problem = template_problem("{{ a and {% for e in b %}{{ e }}{% endfor %} == 'x' }}")
            .expect("refused");
        assert!(
            problem.contains("a {% %} block inside {{ }} is not supported"),
            "{problem}"
        );
        assert!(template_problem("{% for e in b %}{{ e }}{% endfor %}").is_none());
    }

    #[test]
    fn flowable_tasks_nest_ten_deep_at_most() {
        assert!(findings(&nested(MAX_TASK_NESTING)).is_empty());
        let deeper = only(&nested(MAX_TASK_NESTING + 1));
        assert_eq!(deeper.path, format!("tasks[0]{}", ".tasks[0]".repeat(10)));
        assert!(
            deeper.message.contains("nested more than 10"),
            "{}",
            deeper.message
        );
        // Switch cases count as a level too.
        let pad = "    ".repeat(MAX_TASK_NESTING);
        let leaf = format!(
            "{pad}  - id: leaf\n{pad}    type: io.kestra.plugin.core.debug.Return\n{pad}    format: x\n"
        );
        let switch = nested(MAX_TASK_NESTING).replace(
            &leaf,
            &format!("{pad}  - id: sw\n{pad}    type: io.kestra.plugin.core.flow.Switch\n{pad}    value: a\n{pad}    cases:\n{pad}      a:\n{pad}        - id: leaf\n{pad}          type: io.kestra.plugin.core.debug.Return\n{pad}          format: x\n"),
        );
        assert!(only(&switch).message.contains("nested more than 10"));
    }

    #[test]
    fn a_null_optional_task_list_is_no_tasks_and_a_null_required_one_is_refused() {
        let switch = "id: s\nnamespace: a.b\ntasks:\n  - id: sw\n    type: io.kestra.plugin.core.flow.Switch\n    value: x\n    cases:\n      x:\n        - id: r\n          type: io.kestra.plugin.core.debug.Return\n          format: x\n    defaults: null\n";
        assert!(findings(switch).is_empty());
        let sequential = "id: s\nnamespace: a.b\ntasks:\n  - id: seq\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks: null\n";
        assert_eq!(
            only(sequential).message,
            "tasks[0].tasks must hold at least one task"
        );
    }

    #[test]
    fn the_design_example_is_valid() {
        let report = check(HELLO);
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        let flow = report.flow.expect("flow");
        assert_eq!(
            (flow.namespace.as_str(), flow.id.as_str()),
            ("company.team", "hello")
        );
        assert_eq!(flow.labels.get("env").map(String::as_str), Some("prod"));
        assert_eq!(flow.triggers.len(), 2);
        assert_eq!(flow.triggers[0].cron, "0 9 * * *");
        assert_eq!(flow.triggers[0].timezone, "Europe/Paris");
        assert_eq!(flow.triggers[1].definition["key"], "s3cr3t");
    }

    #[test]
    fn each_class_of_mistake_is_found_with_its_place() {
        let unknown = only(&HELLO.replace("core.log.Log", "core.log.Nope"));
        assert_eq!(
            (unknown.path.as_str(), unknown.line, unknown.column),
            ("tasks[0].type", 11, 11)
        );
        assert!(unknown.message.contains("unknown task type"));

        let duplicate = only(&HELLO.replace("id: out", "id: greet"));
        assert_eq!(duplicate.path, "tasks[1].tasks[1].id");
        assert!(
            duplicate.message.contains("already used by tasks[0]"),
            "{duplicate}"
        );

        let cron = only(&HELLO.replace("0 9 * * *", "0 25 * * *"));
        assert_eq!(cron.path, "triggers[0].cron");
        let fields = only(&HELLO.replace("0 9 * * *", "0 9 * *"));
        assert!(fields.message.contains("5 fields"), "{fields}");
        let zone = only(&HELLO.replace("Europe/Paris", "Mars/Olympus"));
        assert_eq!(zone.path, "triggers[0].timezone");

        let template = only(&HELLO.replace("{{ inputs.user }}", "{{ inputs.user "));
        assert_eq!(template.path, "tasks[0].message");
        assert!(
            template.message.starts_with("invalid template"),
            "{template}"
        );

        let missing = only(&HELLO.replace("        duration: PT1S\n", ""));
        assert_eq!(missing.path, "tasks[1].tasks[0].duration");
        let duration = only(&HELLO.replace("PT1S", "one second"));
        assert!(duration.message.contains("ISO-8601"));

        let namespace = only(&HELLO.replace("company.team", "Company"));
        assert_eq!(namespace.path, "namespace");
        let id = only(&HELLO.replace("id: hello", "id: _hello"));
        assert_eq!(id.path, "id");
        let property = only(&HELLO.replace("    format:", "    formatt:"));
        assert!(
            property.message.contains("unknown property 'formatt'"),
            "{property}"
        );
        let input = only(&HELLO.replace("type: STRING", "type: STRIN"));
        assert_eq!(input.path, "inputs[0].type");
        let default = only(&HELLO.replace("defaults: world", "defaults: [1]"));
        assert_eq!(default.path, "inputs[0].defaults");
        let trigger = only(&HELLO.replace("trigger.Webhook", "trigger.Hook"));
        assert_eq!(trigger.path, "triggers[1].type");
        let top = only(&format!("{HELLO}colour: blue\n"));
        assert_eq!(top.path, "colour");
    }

    #[test]
    fn broken_documents_are_one_finding() {
        let syntax = only("id: [hello\nnamespace: }\n");
        assert!(syntax.message.starts_with("invalid YAML"));
        assert!(syntax.line > 0);
        let scalar = only("just a string");
        assert!(scalar.message.contains("must be a mapping"));
        let no_tasks = findings("id: a\nnamespace: b\n");
        assert!(no_tasks.iter().any(|f| f.path == "tasks"), "{no_tasks:?}");
    }

    #[test]
    fn kestra_properties_aerie_does_not_apply_are_refused_by_name() {
        let task = |extra: &str| {
            HELLO.replace(
                "        format:",
                &format!("        {extra}\n        format:"),
            )
        };
        for (source, path, words) in [
            (
                format!("{HELLO}concurrency:\n  limit: 0\n"),
                "concurrency",
                "from 1",
            ),
            (
                format!("{HELLO}sla:\n  - id: a\n    type: MAX_DURATION\n    behavior: FAIL\n"),
                "sla",
                "sla[0]: a MAX_DURATION SLA needs a duration",
            ),
            (
                format!("{HELLO}afterExecution: []\n"),
                "afterExecution",
                "does not support",
            ),
            (
                format!("{HELLO}deleted: maybe\n"),
                "deleted",
                "true or false",
            ),
            (
                task("workerGroup: {key: gpu}"),
                "tasks[1].tasks[1].workerGroup",
                "does not support",
            ),
            (
                task("logToFile: true"),
                "tasks[1].tasks[1].logToFile",
                "does not support",
            ),
            (
                task("logLevel: LOUD"),
                "tasks[1].tasks[1].logLevel",
                "logLevel must be",
            ),
            (
                task("retry: {type: constant, interval: PT1S}"),
                "tasks[1].tasks[1].retry",
                "maxAttempt or maxDuration",
            ),
            (
                HELLO.replace(
                    "    timezone: Europe/Paris",
                    "    timezone: Europe/Paris\n    conditions: []",
                ),
                "triggers[0].conditions",
                "does not support",
            ),
            (
                HELLO.replace(
                    "    key: s3cr3t",
                    "    key: s3cr3t\n    conditions:\n      - type: io.kestra.plugin.core.condition.DayWeek\n        dayOfWeek: MONDAY",
                ),
                "triggers[1].conditions[0].type",
                "not supported",
            ),
            (
                HELLO.replace("    key: s3cr3t", "    key: s3cr3t\n    wait: true"),
                "triggers[1].wait",
                "?wait=true",
            ),
            (
                HELLO.replace(
                    "    timezone: Europe/Paris",
                    "    timezone: Europe/Paris\n    recoverMissedSchedules: ALL",
                ),
                "triggers[0].recoverMissedSchedules",
                "must be LAST",
            ),
            (
                HELLO.replace(
                    "    timezone: Europe/Paris",
                    "    timezone: Europe/Paris\n    inputs: {user: \"{{ now() }}\"}",
                ),
                "triggers[0].inputs.user",
                "not rendered",
            ),
            (
                HELLO.replace(
                    "    timezone: Europe/Paris",
                    "    timezone: Europe/Paris\n    inputs: {usr: ann}",
                ),
                "triggers[0].inputs.usr",
                "unknown input 'usr'",
            ),
            (
                HELLO.replace(
                    "    timezone: Europe/Paris",
                    "    timezone: Europe/Paris\n    inputs: {user: [1]}",
                ),
                "triggers[0].inputs.user",
                "expected a string",
            ),
            (
                HELLO.replace(
                    "    key: s3cr3t",
                    "    key: s3cr3t\n    inputs: {user: ann}",
                ),
                "triggers[1].inputs",
                "unknown property",
            ),
        ] {
            let finding = only(&source);
            assert_eq!(finding.path, path, "{finding}");
            assert!(finding.message.contains(words), "{finding}");
        }
        for accepted in [
            format!(
                "{HELLO}deleted: false\nretry:\n  type: constant\n  interval: PT1S\n  maxAttempt: 2\n"
            ),
            task(
                "retry: {type: exponential, interval: PT1S, maxInterval: PT10S, maxDuration: PT1M}",
            ),
            task("allowWarning: true\n        logLevel: WARN"),
            HELLO.replace(
                "    timezone: Europe/Paris",
                "    timezone: Europe/Paris\n    recoverMissedSchedules: LAST",
            ),
            HELLO.replace(
                "    timezone: Europe/Paris",
                "    timezone: Europe/Paris\n    inputs: {user: ann}\n    labels: {team: a}",
            ),
            HELLO.replace(
                "    key: s3cr3t",
                "    key: \"{{ secret('HOOK') }}\"\n    conditions:\n      - type: io.kestra.plugin.core.condition.ExpressionCondition\n        expression: \"{{ trigger.body.hello == 'world' }}\"",
            ),
        ] {
            assert_eq!(findings(&accepted), [], "{accepted}");
        }
    }

    #[test]
    fn plain_scalars_keep_their_text_where_kestra_expects_a_string() {
        let source = "id: n\nnamespace: company.team\ntasks:\n  - id: 1\n    type: io.kestra.plugin.core.log.Log\n    message: no\n  - id: off\n    type: io.kestra.plugin.core.debug.Return\n    format: yes\ntriggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: on\n";
        let report = check(source);
        assert_eq!(report.findings, [], "{source}");
        assert_eq!(report.id, "n");
        let flow = report.flow.expect("flow");
        assert_eq!(flow.triggers[0].definition["key"], "on");
        let legacy = check(&HELLO.replace(
            "io.kestra.plugin.core.trigger.Schedule",
            "io.kestra.core.models.triggers.types.Schedule",
        ));
        assert_eq!(legacy.findings, []);
        assert_eq!(
            legacy.flow.expect("flow").triggers[0].kind,
            trigger_types::SCHEDULE
        );
        let typo = only(&source.replace("message: no", "message: no\n    disabled: yes"));
        assert!(typo.message.contains("true or false"), "{typo}");
    }

    #[test]
    fn pebble_syntax_aerie_renders_is_accepted_and_the_rest_refused_by_name() {
        let accepted = HELLO.replace(
            "{{ execution.id }}",
            "{{ inputs.user == 'ann' ? 'hi' : inputs.user ?? 'nobody' }} {{ outputs | json }}",
        );
        assert_eq!(findings(&accepted), []);
        let refused = only(&HELLO.replace("{{ execution.id }}", "{{ now() | date('yyyy') }}"));
        assert!(
            refused
                .message
                .contains("filter 'date', which Aerie does not support"),
            "{refused}"
        );
    }

    #[test]
    fn a_switch_needs_a_branch_and_checks_every_case() {
        let switch = |body: &str| {
            format!(
                "id: s\nnamespace: a.b\ntasks:\n  - id: pick\n    type: io.kestra.plugin.core.flow.Switch\n    value: x\n{body}"
            )
        };
        let case = "    cases:\n      A:\n        - id: a\n          type: io.kestra.plugin.core.log.Log\n          message: hi\n";
        assert_eq!(findings(&switch(case)), []);
        assert!(
            only(&switch(""))
                .message
                .contains("cases, defaults or both")
        );
        let typo = findings(&switch(&case.replace("message", "mesage")));
        assert_eq!(typo[0].path, "tasks[0].cases.A[0].mesage");
    }

    #[test]
    fn plugin_defaults_apply_before_the_tasks_are_checked() {
        let flow = |defaults: &str, tasks: &str| {
            format!("id: d\nnamespace: a.b\n{defaults}tasks:\n{tasks}")
        };
        let bare_log = "  - id: say\n    type: io.kestra.plugin.core.log.Log\n";
        // Without the default the message is missing; with it, valid.
        assert!(
            only(&flow("", bare_log))
                .message
                .contains("'message' is required")
        );
        let given = "pluginDefaults:\n  - type: io.kestra.plugin.core.log.Log\n    values:\n      message: hi\n      level: WARN\n";
        assert_eq!(findings(&flow(given, bare_log)), []);
        assert_eq!(
            findings(&flow(
                &given.replace("pluginDefaults", "taskDefaults"),
                bare_log
            )),
            [],
            "the older name"
        );
        // A prefix reaches every type under it.
        let prefix =
            "pluginDefaults:\n  - type: io.kestra.plugin.core.log\n    values: {message: hi}\n";
        assert_eq!(findings(&flow(prefix, bare_log)), []);
        // What a default adds is checked like the task's own properties,
        // and the finding points into pluginDefaults.
        let typo = "pluginDefaults:\n  - type: io.kestra.plugin.core.log.Log\n    values:\n      mesage: hi\n";
        let found = findings(&flow(typo, bare_log));
        assert!(
            found
                .iter()
                .any(|f| f.path == "tasks[0].mesage" && f.line == 6),
            "{found:?}"
        );
        let bad = findings(&flow("pluginDefaults:\n  - values: {a: 1}\n", bare_log)).remove(0);
        assert_eq!(bad.path, "pluginDefaults");
        assert!(bad.message.contains("'type' is required"), "{bad:?}");
    }

    #[test]
    fn a_subflow_names_its_flow_and_refuses_what_it_would_not_apply() {
        let subflow = |extra: &str| {
            format!(
                "id: s\nnamespace: a.b\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: a.b\n    flowId: child\n{extra}"
            )
        };
        assert_eq!(findings(&subflow("")), []);
        let full = "    revision: 2\n    wait: false\n    transmitFailed: false\n    inheritLabels: true\n    inputs:\n      who: \"{{ flow.id }}\"\n    labels:\n      team: data\n";
        assert_eq!(findings(&subflow(full)), []);
        assert_eq!(
            findings(&subflow("").replace("plugin.core.flow.Subflow", "core.tasks.flows.Flow")),
            [],
            "the older name"
        );
        let listed = only(&subflow("").replace("flowId: child", "flowId: [x]"));
        assert!(
            listed.message.contains("'flowId' must be a string"),
            "{listed:?}"
        );
        let bad = only(&subflow("").replace(
            "    namespace: a.b\n    flowId",
            "    namespace: Bad NS\n    flowId",
        ));
        assert_eq!(bad.path, "tasks[0].namespace");
        assert_eq!(
            findings(&subflow("").replace("flowId: child", "flowId: \"{{ inputs.f }}\"")),
            [],
            "a template is looked up when it runs"
        );
        let missing = only(&subflow("").replace("    flowId: child\n", ""));
        assert!(
            missing.message.contains("'flowId' is required"),
            "{missing:?}"
        );
        for (extra, says) in [
            ("    revision: 0\n", "revision must be a whole number"),
            ("    wait: maybe\n", "'wait' must be true or false"),
            ("    inputs: [a]\n", "inputs must be a mapping"),
            (
                "    labels:\n      system.x: y\n",
                "System labels can only be set",
            ),
            (
                "    timeout: PT1M\n",
                "'timeout' is not supported on a Subflow",
            ),
            (
                "    scheduleDate: \"2026-01-01T00:00:00Z\"\n",
                "'scheduleDate' is a Kestra property",
            ),
            ("    outputs: [a]\n", "outputs must be a mapping"),
        ] {
            let finding = only(&subflow(extra));
            assert!(finding.message.contains(says), "{extra}: {finding:?}");
        }
    }

    #[test]
    fn cron_nicknames_and_seconds_are_accepted() {
        assert_eq!(cron_problem("@daily", false), None);
        assert_eq!(cron_problem("*/5 * * * *", false), None);
        assert_eq!(cron_problem("0 */5 * * * *", true), None);
        assert!(cron_problem("0 */5 * * * *", false).is_some());
    }
}
