//! The one typed model of a flow: its YAML turned into tasks with their
//! kinds, properties and child lists, inputs, outputs, triggers, labels,
//! retry, concurrency and SLAs. flow-svc's validation (which also says
//! where each problem is) ends by building it, so a flow it accepts is one
//! the executor can run; the executor walks it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::{
    LOG_LEVELS, MAX_TASK_NESTING, concurrency::Concurrency, duration::parse_iso_duration,
    retry::Retry, scalar_text, sla::Sla, yaml_options,
};
use serde_json::{Map, Value};

/// The executable form of one flow revision.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub namespace: String,
    pub inputs: Vec<InputSpec>,
    pub variables: Map<String, Value>,
    pub tasks: Vec<Task>,
    pub errors: Vec<Task>,
    pub finally: Vec<Task>,
    /// Flow outputs: rendered when the tasks end, converted to their type.
    pub outputs: Vec<OutputDef>,
    /// The enabled Webhook triggers.
    pub webhooks: Vec<Webhook>,
    /// The Schedule triggers' own inputs and labels, by trigger id.
    pub schedules: BTreeMap<String, Schedule>,
    /// The flow's labels: every execution of it carries them.
    pub labels: BTreeMap<String, String>,
    /// How many executions of the flow may run at once.
    pub concurrency: Option<Concurrency>,
    pub slas: Vec<Sla>,
}

pub use super::triggers::{Schedule, Webhook};

/// One declared input, read by the same code that validated it.
pub use super::inputs::InputDef as InputSpec;
pub use super::outputs::OutputDef;

pub use super::tasks::{Body, TaskKind};

/// One task with its properties; flowable tasks carry child lists.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    /// The full type name as written.
    pub type_name: String,
    /// The task's own properties, typed.
    pub body: Body,
    /// `tasks`, or `then` for If.
    pub tasks: Vec<Task>,
    /// `else` of If, `defaults` of Switch.
    pub otherwise: Vec<Task>,
    /// Switch: the task list of each case value.
    pub cases: Vec<(String, Vec<Task>)>,
    pub errors: Vec<Task>,
    pub finally: Vec<Task>,
    pub disabled: bool,
    pub allow_failure: bool,
    /// `allowWarning`: a WARNING end counts as SUCCESS.
    pub allow_warning: bool,
    /// `logLevel`: the rank in [`LOG_LEVELS`] below which this task's log
    /// lines are dropped.
    pub log_level: usize,
    /// The retry policy a failure of this task follows: its own, else the
    /// nearest enclosing flowable task's, else the flow's (as Kestra).
    /// Flowable tasks themselves are not retried: their children are.
    pub retry: Option<Arc<Retry>>,
    pub timeout: Option<Duration>,
    /// `runIf`: a template; a false value skips the task.
    pub run_if: Option<String>,
}

impl Task {
    pub fn kind(&self) -> TaskKind {
        self.body.kind()
    }
}

/// Why a flow cannot run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(String);

impl Plan {
    pub fn parse(source: &str) -> Result<Plan, PlanError> {
        let mut root: Value = serde_saphyr::from_str_with_options(source, yaml_options())
            .map_err(|err| PlanError(format!("the flow's YAML cannot be read: {err}")))?;
        super::plugin_defaults::apply(&mut root);
        let Value::Object(root) = root else {
            return Err(PlanError("a flow is a YAML mapping".into()));
        };
        let string = |key: &str| root.get(key).and_then(scalar_text).unwrap_or_default();
        let inputs = match root.get("inputs") {
            Some(Value::Array(list)) => super::inputs::parse_all(list)
                .map_err(|problem| PlanError(format!("an input: {}", problem.message)))?,
            _ => Vec::new(),
        };
        let outputs = match root.get("outputs") {
            Some(Value::Array(list)) => super::outputs::parse_all(list)
                .map_err(|(i, _, why)| PlanError(format!("outputs[{i}]: {why}")))?,
            _ => Vec::new(),
        };
        let retry = own_retry(&root, "the flow")?;
        let retry = retry.as_ref();
        let plan = Plan {
            id: string("id"),
            namespace: string("namespace"),
            inputs,
            variables: match root.get("variables") {
                Some(Value::Object(vars)) => vars.clone(),
                _ => Map::new(),
            },
            tasks: task_list(root.get("tasks"), retry)?,
            errors: task_list(root.get("errors"), retry)?,
            finally: task_list(root.get("finally"), retry)?,
            outputs,
            webhooks: Webhook::enabled(root.get("triggers")),
            schedules: Schedule::all(root.get("triggers")),
            // `system.` labels of a flow (its `system.readOnly`) are not its
            // executions', as in Kestra.
            labels: labels(root.get("labels"))
                .into_iter()
                .filter(|(key, _)| !key.starts_with("system."))
                .collect(),
            concurrency: match root.get("concurrency") {
                None | Some(Value::Null) => None,
                Some(value) => Some(
                    Concurrency::parse(value)
                        .map_err(|problem| PlanError(format!("the flow: {problem}")))?,
                ),
            },
            slas: match root.get("sla") {
                None | Some(Value::Null) => Vec::new(),
                Some(value) => Sla::parse_all(value)
                    .map_err(|problem| PlanError(format!("the flow: {problem}")))?,
            },
        };
        // Flows stored before the limit existed fail instead of
        // overflowing a worker's stack.
        let nesting = [&plan.tasks, &plan.errors, &plan.finally]
            .into_iter()
            .map(|tasks| nesting(tasks))
            .max()
            .unwrap_or(0);
        if nesting > MAX_TASK_NESTING {
            return Err(PlanError(format!(
                "tasks are nested {nesting} flowable tasks deep; Aerie runs at most {MAX_TASK_NESTING} levels"
            )));
        }
        Ok(plan)
    }

    /// Every task id at any depth, for checks such as "does this task exist".
    pub fn contains_task(&self, id: &str) -> bool {
        self.find_task(id).is_some()
    }

    /// The task with this id, at any depth.
    pub fn find_task(&self, id: &str) -> Option<&Task> {
        fn walk<'a>(tasks: &'a [Task], id: &str) -> Option<&'a Task> {
            tasks.iter().find_map(|t| {
                if t.id == id {
                    return Some(t);
                }
                walk(&t.tasks, id)
                    .or_else(|| walk(&t.otherwise, id))
                    .or_else(|| t.cases.iter().find_map(|(_, tasks)| walk(tasks, id)))
                    .or_else(|| walk(&t.errors, id))
                    .or_else(|| walk(&t.finally, id))
            })
        }
        walk(&self.tasks, id)
            .or_else(|| walk(&self.errors, id))
            .or_else(|| walk(&self.finally, id))
    }
}

/// How many flowable tasks the deepest task of `tasks` sits inside.
fn nesting(tasks: &[Task]) -> usize {
    tasks
        .iter()
        .map(|t| {
            let children = [&t.tasks, &t.otherwise, &t.errors, &t.finally]
                .into_iter()
                .chain(t.cases.iter().map(|(_, tasks)| tasks))
                .filter(|list| !list.is_empty())
                .map(|list| 1 + nesting(list))
                .max();
            children.unwrap_or(0)
        })
        .max()
        .unwrap_or(0)
}

pub use super::tasks::labels;

fn task_list(value: Option<&Value>, retry: Option<&Arc<Retry>>) -> Result<Vec<Task>, PlanError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|item| task(item, retry)).collect(),
        Some(_) => Err(PlanError("a task list must be a YAML sequence".into())),
    }
}

/// The `retry` written on a task or on the flow itself.
fn own_retry(props: &Map<String, Value>, whose: &str) -> Result<Option<Arc<Retry>>, PlanError> {
    match props.get("retry") {
        None | Some(Value::Null) => Ok(None),
        Some(retry) => Retry::parse(retry)
            .map(|r| Some(Arc::new(r)))
            .map_err(|problem| PlanError(format!("{whose}: {problem}"))),
    }
}

fn task(value: &Value, inherited: Option<&Arc<Retry>>) -> Result<Task, PlanError> {
    let Value::Object(props) = value else {
        return Err(PlanError("a task must be a YAML mapping".into()));
    };
    let id = props
        .get("id")
        .and_then(scalar_text)
        .ok_or_else(|| PlanError("a task has no id".into()))?;
    let type_name = props
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let task_type = super::tasks::lookup(&type_name)
        .ok_or_else(|| PlanError(format!("task {id}: unknown type '{type_name}'")))?;
    let kind = task_type.kind;
    let flag = |name: &str| props.get(name).and_then(Value::as_bool).unwrap_or(false);
    let timeout =
        match props.get("timeout").and_then(Value::as_str) {
            Some(text) => Some(parse_iso_duration(text).ok_or_else(|| {
                PlanError(format!("task {id}: timeout '{text}' is not a duration"))
            })?),
            None => None,
        };
    let children = if kind == TaskKind::If {
        props.get("then")
    } else {
        props.get("tasks")
    };
    let retry = own_retry(props, &format!("task {id}"))?.or_else(|| inherited.cloned());
    let flowable = task_type.is_flowable();
    let inner = retry.as_ref();
    let log_level = props
        .get("logLevel")
        .and_then(Value::as_str)
        .and_then(|level| LOG_LEVELS.iter().position(|l| *l == level))
        .unwrap_or(0);
    let tasks = match kind {
        TaskKind::ForEachItem => for_each_item_parts(&id, props, log_level),
        _ => task_list(children, inner)?,
    };
    Ok(Task {
        tasks,
        otherwise: match kind {
            TaskKind::Switch => task_list(props.get("defaults"), inner)?,
            _ => task_list(props.get("else"), inner)?,
        },
        cases: match props.get("cases") {
            Some(Value::Object(cases)) if kind == TaskKind::Switch => cases
                .iter()
                .map(|(value, tasks)| Ok((value.clone(), task_list(Some(tasks), inner)?)))
                .collect::<Result<_, PlanError>>()?,
            _ => Vec::new(),
        },
        errors: task_list(props.get("errors"), inner)?,
        finally: task_list(props.get("finally"), inner)?,
        disabled: flag("disabled"),
        allow_failure: flag("allowFailure"),
        allow_warning: flag("allowWarning"),
        log_level,
        retry: if flowable { None } else { retry.clone() },
        timeout,
        run_if: props.get("runIf").map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        id,
        type_name,
        body: Body::read(kind, props),
    })
}

/// The task runs a ForEachItem is made of, as Kestra names them: `{id}_split`
/// cuts the items into batch files, `{id}_items` starts a subflow execution
/// per batch, `{id}_merge` gathers their outputs. Each carries the
/// properties it needs; none retries (the ForEachItem is run as a whole).
fn for_each_item_parts(id: &str, props: &Map<String, Value>, log_level: usize) -> Vec<Task> {
    let part = |suffix: &str, kind: TaskKind, inner: &str| Task {
        id: format!("{id}{suffix}"),
        type_name: format!("{}${inner}", super::task_types::FOR_EACH_ITEM),
        body: Body::read(kind, props),
        tasks: Vec::new(),
        otherwise: Vec::new(),
        cases: Vec::new(),
        errors: Vec::new(),
        finally: Vec::new(),
        disabled: false,
        allow_failure: false,
        allow_warning: false,
        log_level,
        retry: None,
        timeout: None,
        run_if: None,
    };
    vec![
        part("_split", TaskKind::ForEachItemSplit, "ForEachItemSplit"),
        part(
            "_items",
            TaskKind::ForEachItemItems,
            "ForEachItemExecutable",
        ),
        part(
            "_merge",
            TaskKind::ForEachItemMerge,
            "ForEachItemMergeOutputs",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_and_numbers_read_as_kestra_reads_them() {
        let plan = Plan::parse(
            "id: n\nnamespace: a.b\ntasks:\n  - id: 1\n    type: io.kestra.plugin.core.log.Log\n    message: no\ntriggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: on\n",
        )
        .unwrap();
        assert_eq!(plan.id, "n");
        assert_eq!(plan.tasks[0].id, "1");
        let Body::Log(log) = &plan.tasks[0].body else {
            panic!("a Log: {:?}", plan.tasks[0].body);
        };
        assert_eq!(log.messages, [Value::from("no")]);
        assert_eq!(plan.webhooks[0].key, "on");
    }

    #[test]
    fn nested_tasks_and_inputs_are_read() {
        let plan = Plan::parse(
            r#"id: f
namespace: a.b
inputs:
  - id: who
    type: STRING
    defaults: world
  - id: count
    type: INT
    required: false
variables:
  greeting: hi
tasks:
  - id: branch
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.count > 1 }}"
    then:
      - id: big
        type: io.kestra.core.tasks.log.Log
        message: big
    else:
      - id: small
        type: io.kestra.plugin.core.log.Log
        message: small
        timeout: PT5S
        allowFailure: true
outputs:
  - id: result
    type: STRING
    value: "{{ inputs.who }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: k1
  - id: off
    type: io.kestra.plugin.core.trigger.Webhook
    key: k2
    disabled: true
  - id: daily
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
"#,
        )
        .expect("plan");
        assert_eq!((plan.id.as_str(), plan.namespace.as_str()), ("f", "a.b"));
        assert_eq!(plan.inputs.len(), 2);
        assert!(plan.inputs[0].required && !plan.inputs[1].required);
        assert_eq!(plan.inputs[0].defaults, Some(Value::from("world")));
        let branch = &plan.tasks[0];
        assert_eq!(branch.kind(), TaskKind::If);
        assert_eq!(
            branch.tasks[0].kind(),
            TaskKind::Log,
            "legacy name resolved"
        );
        assert_eq!(branch.otherwise[0].timeout, Some(Duration::from_secs(5)));
        assert!(branch.otherwise[0].allow_failure);
        assert!(plan.contains_task("small") && !plan.contains_task("maybe"));
        assert_eq!(plan.outputs[0].id, "result");
        assert_eq!(plan.variables["greeting"], "hi");
        let hooks: Vec<_> = plan
            .webhooks
            .iter()
            .map(|w| (w.id.as_str(), w.key.as_str()))
            .collect();
        assert_eq!(hooks, [("hook", "k1")], "enabled webhooks only");
    }

    #[test]
    fn a_flow_nested_deeper_than_the_limit_cannot_run() {
        let nested = |levels: usize| {
            let mut yaml = String::from("id: f\nnamespace: a\ntasks:\n");
            for level in 0..levels {
                let pad = "    ".repeat(level);
                yaml.push_str(&format!(
                    "{pad}  - id: s{level}\n{pad}    type: io.kestra.plugin.core.flow.Sequential\n{pad}    tasks:\n"
                ));
            }
            let pad = "    ".repeat(levels);
            yaml.push_str(&format!(
                "{pad}  - id: leaf\n{pad}    type: io.kestra.plugin.core.log.Log\n{pad}    message: x\n"
            ));
            yaml
        };
        assert!(Plan::parse(&nested(MAX_TASK_NESTING)).is_ok());
        let err = Plan::parse(&nested(MAX_TASK_NESTING + 1)).expect_err("too deep");
        assert!(err.0.contains("nested 11 flowable tasks deep"), "{}", err.0);
    }

    #[test]
    fn unknown_task_types_cannot_run() {
        let err = Plan::parse("id: f\nnamespace: a\ntasks:\n  - id: t\n    type: x.Y\n")
            .expect_err("unknown type");
        assert!(err.to_string().contains("unknown type 'x.Y'"), "{err}");
    }
}
