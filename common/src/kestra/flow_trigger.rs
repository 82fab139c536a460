//! Kestra's Flow trigger (`io.kestra.plugin.core.trigger.Flow`): start a
//! flow when an execution of another flow ends (or, when its `states` say
//! so, moves to RUNNING or PAUSED). One reading of its
//! properties serves flow-svc's validation and the executor that fires it.
//!
//! What Aerie carries out: `states`, `inputs` (rendered with
//! `trigger.outputs`), the ExecutionFlow, ExecutionStatus and
//! ExecutionNamespace conditions, and the sets of conditions that several
//! executions meet between them within a time window: `preconditions`
//! (upstream flows and `where` filters) and the older MultipleCondition.
//! Such a set's window is kept by the executor ([`Window`], [`Marks`]);
//! a set of one condition needs no keeping. Any condition type or filter
//! Aerie does not evaluate is refused by name.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use serde_json::{Map, Value};

use super::duration::parse_iso_duration;
use super::scalar_text;

/// States an execution ends in, as Kestra lists them: a Flow trigger fires
/// on these by default.
pub const END_STATES: &[&str] = &[
    "SUCCESS",
    "WARNING",
    "FAILED",
    "KILLED",
    "CANCELLED",
    "RETRIED",
    "SKIPPED",
];

/// Every state name Kestra knows (a name outside it is a typo).
const KESTRA_STATES: &[&str] = &[
    "CREATED",
    "RUNNING",
    "PAUSED",
    "RESTARTED",
    "KILLING",
    "SUCCESS",
    "WARNING",
    "FAILED",
    "KILLED",
    "CANCELLED",
    "QUEUED",
    "RETRYING",
    "RETRIED",
    "SKIPPED",
    "BREAKPOINT",
    "SUBMITTED",
    "RESUBMITTED",
];

/// The properties a Flow trigger takes.
pub const PROPERTIES: &[&str] = &[
    "id",
    "type",
    "description",
    "disabled",
    "inputs",
    "states",
    "preconditions",
    "conditions",
];

/// A Flow trigger, read.
#[derive(Debug, Clone, Default)]
pub struct FlowTrigger {
    /// Input values of the started execution, templates of `trigger.*`.
    pub inputs: Map<String, Value>,
    /// The end states it fires on.
    pub states: Vec<String>,
    /// What each execution must meet by itself.
    pub conditions: Vec<Condition>,
    /// Sets of conditions that executions meet between them, each within
    /// its time window (`preconditions`, MultipleCondition).
    pub windows: Vec<Window>,
}

/// A set of conditions all met, by one execution or several, within a
/// time window: the trigger fires when the last of them is.
#[derive(Debug, Clone)]
pub struct Window {
    /// The `id` of the preconditions or of the MultipleCondition: with the
    /// trigger, the key its window is kept under.
    pub id: String,
    /// Each condition under the key Kestra gives it (`condition_1`,
    /// `condition_2_<where id>`, or the MultipleCondition's own keys).
    pub conditions: Vec<(String, Condition)>,
    pub time: TimeWindow,
    /// Whether what was met is forgotten once the trigger fires (Kestra's
    /// `resetOnSuccess`, true unless said otherwise).
    pub reset_on_success: bool,
}

/// Kestra's `timeWindow`: when the conditions of a [`Window`] count.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeWindow {
    /// Back-to-back windows of `window`, from midnight UTC moved by
    /// `advance` (the default: one day from midnight).
    Duration { window: Duration, advance: Duration },
    /// A window of `window` from the first condition met.
    Sliding { window: Duration },
    /// Each day between two times (UTC).
    DailyWindow { start: NaiveTime, end: NaiveTime },
    /// Each day from midnight until a time (UTC).
    DailyDeadline { deadline: NaiveTime },
}

impl Default for TimeWindow {
    fn default() -> Self {
        TimeWindow::Duration {
            window: Duration::from_secs(86_400),
            advance: Duration::ZERO,
        }
    }
}

/// A condition a Flow trigger evaluates on one execution.
#[derive(Debug, Clone)]
pub enum Condition {
    ExecutionFlow {
        namespace: String,
        flow_id: String,
    },
    ExecutionStatus {
        within: Vec<String>,
        not_within: Vec<String>,
    },
    ExecutionNamespace {
        namespace: String,
        comparison: Comparison,
    },
    /// `preconditions.flows`: an upstream flow.
    Upstream {
        namespace: String,
        flow_id: Option<String>,
        states: Option<Vec<String>>,
        labels: BTreeMap<String, String>,
    },
    /// `preconditions.where`: filters joined by AND or OR.
    Where {
        any: bool,
        filters: Vec<Filter>,
    },
}

#[derive(Debug, Clone)]
pub struct Filter {
    pub field: Field,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Namespace,
    FlowId,
    State,
    /// A template rendered for the execution; tested with IS_TRUE,
    /// IS_FALSE, IS_NULL or IS_NOT_NULL.
    Expression(String),
}

#[derive(Debug, Clone)]
pub enum Test {
    EqualTo(String),
    NotEqualTo(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    StartsWith(String),
    EndsWith(String),
    Contains(String),
    /// The whole value matches (Java's `String.matches`).
    Regex(regex::Regex),
    IsTrue,
    IsFalse,
    IsNull,
    IsNotNull,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Equals,
    Prefix,
    Suffix,
}

/// An execution that ended, as a Flow trigger sees it.
pub struct Ended<'a> {
    pub namespace: &'a str,
    pub flow_id: &'a str,
    pub state: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    /// Renders an EXPRESSION filter's template for this execution; None
    /// when it cannot be rendered (the filter then does not hold, as in
    /// Kestra).
    pub render: &'a (dyn Fn(&str) -> Option<String> + Sync),
}

const EXECUTION_FLOW: &[&str] = &[
    "io.kestra.plugin.core.condition.ExecutionFlow",
    "io.kestra.plugin.core.condition.ExecutionFlowCondition",
    "io.kestra.core.models.conditions.types.ExecutionFlowCondition",
];
const EXECUTION_STATUS: &[&str] = &[
    "io.kestra.plugin.core.condition.ExecutionStatus",
    "io.kestra.plugin.core.condition.ExecutionStatusCondition",
    "io.kestra.core.models.conditions.types.ExecutionStatusCondition",
];
const EXECUTION_NAMESPACE: &[&str] = &[
    "io.kestra.plugin.core.condition.ExecutionNamespace",
    "io.kestra.plugin.core.condition.ExecutionNamespaceCondition",
    "io.kestra.core.models.conditions.types.ExecutionNamespaceCondition",
];

const MULTIPLE_CONDITION: &[&str] = &[
    "io.kestra.plugin.core.condition.MultipleCondition",
    "io.kestra.core.models.conditions.types.MultipleCondition",
];

/// What an execution does to a Flow trigger.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// It does not fire it, and leaves its windows as they are.
    No,
    /// It fires it.
    Fires,
    /// It meets some of the trigger's sets of conditions: each window
    /// records what it met, and the trigger fires if every window then
    /// holds all its conditions.
    Meets(Vec<Marks>),
}

/// What one execution met of one [`Window`], and the window it counts in.
#[derive(Debug, Clone, PartialEq)]
pub struct Marks {
    pub window_id: String,
    /// The keys of the conditions it met.
    pub met: Vec<String>,
    /// The keys of all the window's conditions.
    pub all: Vec<String>,
    /// The window a new record opens (epoch milliseconds, end excluded).
    pub start_ms: i64,
    pub end_ms: i64,
    pub reset_on_success: bool,
}

impl FlowTrigger {
    /// Reads a Flow trigger's properties (as JSON); the error names the
    /// property at fault and, for what Aerie does not evaluate, says so.
    pub fn parse(definition: &Value) -> Result<FlowTrigger, String> {
        let Value::Object(map) = definition else {
            return Err("a Flow trigger is a mapping".into());
        };
        if let Some(key) = map.keys().find(|k| !PROPERTIES.contains(&k.as_str())) {
            return Err(format!("unknown property '{key}' for a Flow trigger"));
        }
        let inputs = match map.get("inputs") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(inputs)) => inputs.clone(),
            Some(_) => return Err("inputs must be a mapping of input ids to values".into()),
        };
        if Value::Object(inputs.clone()).to_string().contains("secret") {
            return Err(
                "a Flow trigger's inputs may not use secret(): a secret's value would be stored in the started execution's inputs; let the flow read it with secret()"
                    .into(),
            );
        }
        let states = match map.get("states") {
            None | Some(Value::Null) => END_STATES.iter().map(|s| s.to_string()).collect(),
            Some(value) => end_states(value, "states")?,
        };
        let mut windows = Vec::new();
        if let Some(value) = map.get("preconditions").filter(|v| !v.is_null()) {
            windows.push(preconditions(value)?);
        }
        let mut conditions = Vec::new();
        match map.get("conditions") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for item in items {
                    match multiple_condition(item)? {
                        Some(window) => windows.push(window),
                        None => conditions.push(condition(item)?),
                    }
                }
            }
            Some(_) => return Err("conditions must be a list".into()),
        }
        if let Some(id) = windows
            .iter()
            .enumerate()
            .find(|(i, w)| windows[..*i].iter().any(|o| o.id == w.id))
            .map(|(_, w)| &w.id)
        {
            return Err(format!(
                "two sets of conditions have the id '{id}': each needs its own"
            ));
        }
        Ok(FlowTrigger {
            inputs,
            states,
            conditions,
            windows,
        })
    }

    /// What the move of `ended` (at `now`) does to this trigger.
    pub fn evaluate(&self, ended: &Ended, now: DateTime<Utc>) -> Verdict {
        if !self.states.iter().any(|s| s == ended.state)
            || !self.conditions.iter().all(|c| c.holds(ended))
        {
            return Verdict::No;
        }
        let mut marks = Vec::new();
        for window in &self.windows {
            let (start, end) = window.time.span(now);
            if now < start || now >= end {
                // Outside a daily window or after a deadline nothing counts.
                return Verdict::No;
            }
            let met: Vec<String> = window
                .conditions
                .iter()
                .filter(|(_, c)| c.holds(ended))
                .map(|(key, _)| key.clone())
                .collect();
            if met.is_empty() {
                // An execution that meets none of a set leaves the trigger be.
                return Verdict::No;
            }
            if window.conditions.len() > 1 {
                marks.push(Marks {
                    window_id: window.key(),
                    met,
                    all: window.conditions.iter().map(|(k, _)| k.clone()).collect(),
                    start_ms: start.timestamp_millis(),
                    end_ms: end.timestamp_millis(),
                    reset_on_success: window.reset_on_success,
                });
            }
        }
        match marks.is_empty() {
            true => Verdict::Fires,
            false => Verdict::Meets(marks),
        }
    }

    /// Whether some filter renders a template for the execution.
    pub fn renders_expressions(&self) -> bool {
        let renders = |c: &Condition| match c {
            Condition::Where { filters, .. } => filters
                .iter()
                .any(|f| matches!(f.field, Field::Expression(_))),
            _ => false,
        };
        self.conditions.iter().any(renders)
            || self
                .windows
                .iter()
                .any(|w| w.conditions.iter().any(|(_, c)| renders(c)))
    }
}

impl Window {
    /// The key its window is kept under: its id and a fingerprint of its
    /// conditions and time window, so that what was met under one
    /// definition never counts under a changed one.
    pub fn key(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{:?}|{:?}", self.conditions, self.time));
        let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}~{short}", self.id)
    }
}

impl TimeWindow {
    /// The window that `now` falls in, or for a daily window or deadline
    /// today's (which `now` may be outside of); the end is excluded.
    pub fn span(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let midnight = now
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc();
        let delta = |d: &Duration| TimeDelta::from_std(*d).unwrap_or(TimeDelta::MAX);
        match self {
            TimeWindow::Duration { window, advance } => {
                let length = delta(window).max(TimeDelta::milliseconds(1));
                let mut origin = midnight + delta(advance);
                while origin > now {
                    origin -= TimeDelta::days(1);
                }
                let passed = (now - origin).num_milliseconds() / length.num_milliseconds();
                let start = origin + TimeDelta::milliseconds(passed * length.num_milliseconds());
                (start, start + length)
            }
            TimeWindow::Sliding { window } => (now, now + delta(window)),
            TimeWindow::DailyWindow { start, end } => (
                midnight + start.signed_duration_since(NaiveTime::MIN),
                midnight + end.signed_duration_since(NaiveTime::MIN),
            ),
            TimeWindow::DailyDeadline { deadline } => (
                midnight,
                midnight + deadline.signed_duration_since(NaiveTime::MIN),
            ),
        }
    }
}

impl Filter {
    fn holds(&self, ended: &Ended) -> bool {
        let field = match &self.field {
            Field::Namespace => ended.namespace.to_owned(),
            Field::FlowId => ended.flow_id.to_owned(),
            Field::State => ended.state.to_owned(),
            Field::Expression(template) => match (ended.render)(template) {
                Some(text) => text,
                None => return false,
            },
        };
        let field = field.as_str();
        match &self.test {
            Test::EqualTo(v) => field == v,
            Test::NotEqualTo(v) => field != v,
            Test::In(vs) => vs.iter().any(|v| v == field),
            Test::NotIn(vs) => !vs.iter().any(|v| v == field),
            Test::StartsWith(v) => field.starts_with(v.as_str()),
            Test::EndsWith(v) => field.ends_with(v.as_str()),
            Test::Contains(v) => field.contains(v.as_str()),
            Test::Regex(pattern) => pattern.is_match(field),
            Test::IsTrue => is_truthy(field),
            Test::IsFalse => !is_truthy(field),
            Test::IsNull => field.is_empty(),
            Test::IsNotNull => !field.is_empty(),
        }
    }
}

/// Kestra's truth of a rendered value: anything but `false`, `0`, `-0`
/// and the empty text.
fn is_truthy(text: &str) -> bool {
    !matches!(text.trim(), "" | "false" | "0" | "-0")
}

impl Condition {
    fn holds(&self, ended: &Ended) -> bool {
        match self {
            Condition::ExecutionFlow { namespace, flow_id } => {
                namespace == ended.namespace && flow_id == ended.flow_id
            }
            Condition::ExecutionStatus { within, not_within } => {
                (within.is_empty() || within.iter().any(|s| s == ended.state))
                    && !not_within.iter().any(|s| s == ended.state)
            }
            Condition::ExecutionNamespace {
                namespace,
                comparison,
            } => match comparison {
                Comparison::Equals => ended.namespace == namespace,
                Comparison::Prefix => ended.namespace.starts_with(namespace.as_str()),
                Comparison::Suffix => ended.namespace.ends_with(namespace.as_str()),
            },
            Condition::Upstream {
                namespace,
                flow_id,
                states,
                labels,
            } => {
                namespace == ended.namespace
                    && flow_id.as_ref().is_none_or(|f| f == ended.flow_id)
                    && states
                        .as_ref()
                        .is_none_or(|s| s.iter().any(|s| s == ended.state))
                    && labels.iter().all(|(k, v)| ended.labels.get(k) == Some(v))
            }
            Condition::Where { any, filters } => {
                let mut results = filters.iter().map(|f| f.holds(ended));
                if *any {
                    results.any(|r| r)
                } else {
                    results.all(|r| r)
                }
            }
        }
    }
}

fn text(map: &Map<String, Value>, key: &str, owner: &str) -> Result<String, String> {
    map.get(key)
        .and_then(scalar_text)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("{owner} needs '{key}'"))
}

fn texts(value: &Value, key: &str) -> Result<Vec<String>, String> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|i| scalar_text(i).ok_or_else(|| format!("{key} must be a list of strings")))
            .collect(),
        _ => Err(format!("{key} must be a list")),
    }
}

/// The states besides the end states that a Flow trigger can fire on:
/// an execution's worker moving it to RUNNING (at its start, and again
/// after a pause) or PAUSED.
pub const PASSING_STATES: &[&str] = &["RUNNING", "PAUSED"];

/// A list of states a Flow trigger can fire on: Kestra's names, end
/// states, RUNNING and PAUSED.
fn end_states(value: &Value, key: &str) -> Result<Vec<String>, String> {
    let states = texts(value, key)?;
    for state in &states {
        if !KESTRA_STATES.contains(&state.as_str()) {
            return Err(format!("{key}: '{state}' is not an execution state"));
        }
        if !END_STATES.contains(&state.as_str()) && !PASSING_STATES.contains(&state.as_str()) {
            return Err(format!(
                "{key}: {state} is not supported: Aerie fires Flow triggers on {} and {}",
                PASSING_STATES.join(", "),
                END_STATES.join(", ")
            ));
        }
    }
    Ok(states)
}

/// `preconditions`: upstream flows and `where` filters, all met within
/// its time window.
fn preconditions(value: &Value) -> Result<Window, String> {
    let Value::Object(map) = value else {
        return Err("preconditions must be a mapping".into());
    };
    for key in map.keys() {
        if !["id", "flows", "where", "timeWindow", "resetOnSuccess"].contains(&key.as_str()) {
            return Err(format!("unknown property '{key}' for preconditions"));
        }
    }
    let id = window_id(map, "preconditions")?;
    let list = |key: &str| match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(_) => Err(format!("preconditions.{key} must be a list")),
    };
    let (flows, wheres) = (list("flows")?, list("where")?);
    if flows.is_empty() && wheres.is_empty() {
        return Err("preconditions need at least one of 'flows' or 'where'".into());
    }
    // Kestra's keys: one count across both lists.
    let mut conditions = Vec::new();
    for flow in &flows {
        let key = format!("condition_{}", conditions.len() + 1);
        conditions.push((key, upstream_flow(flow)?));
    }
    for filter in &wheres {
        let (id, condition) = where_condition(filter)?;
        let key = format!("condition_{}_{id}", conditions.len() + 1);
        conditions.push((key, condition));
    }
    Ok(Window {
        id,
        conditions,
        time: match map.get("timeWindow") {
            None | Some(Value::Null) => TimeWindow::default(),
            Some(value) => time_window(value, "preconditions.timeWindow")?,
        },
        reset_on_success: reset_on_success(map, "preconditions")?,
    })
}

/// A MultipleCondition among a trigger's `conditions` (None for any other
/// condition).
fn multiple_condition(value: &Value) -> Result<Option<Window>, String> {
    let Some(map) = value.as_object().filter(|m| {
        m.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| MULTIPLE_CONDITION.contains(&t))
    }) else {
        return Ok(None);
    };
    for key in map.keys() {
        if ![
            "type",
            "id",
            "description",
            "conditions",
            "window",
            "windowAdvance",
            "timeWindow",
            "resetOnSuccess",
        ]
        .contains(&key.as_str())
        {
            return Err(format!("unknown property '{key}' for MultipleCondition"));
        }
    }
    let id = window_id(map, "MultipleCondition")?;
    let Some(Value::Object(entries)) = map.get("conditions") else {
        return Err("MultipleCondition needs 'conditions': a mapping of keys to conditions".into());
    };
    if entries.is_empty() {
        return Err("MultipleCondition needs at least one condition".into());
    }
    let mut conditions = Vec::new();
    for (key, entry) in entries {
        let kind = entry.get("type").and_then(Value::as_str).unwrap_or("");
        if MULTIPLE_CONDITION.contains(&kind) {
            return Err(format!(
                "MultipleCondition '{id}': condition '{key}' is a MultipleCondition; they do not nest"
            ));
        }
        let condition =
            condition(entry).map_err(|e| format!("MultipleCondition '{id}', '{key}': {e}"))?;
        conditions.push((key.clone(), condition));
    }
    // The older `window` and `windowAdvance` are a duration window's.
    let old = ["window", "windowAdvance"]
        .iter()
        .any(|k| map.get(*k).is_some_and(|v| !v.is_null()));
    let time = match (map.get("timeWindow").filter(|v| !v.is_null()), old) {
        (Some(_), true) => {
            return Err(
                "MultipleCondition: give 'timeWindow' or the older 'window' and 'windowAdvance', not both"
                    .into(),
            );
        }
        (Some(value), false) => time_window(value, "MultipleCondition.timeWindow")?,
        (None, _) => {
            let mut older = Map::new();
            for key in ["window", "windowAdvance"] {
                if let Some(value) = map.get(key).filter(|v| !v.is_null()) {
                    older.insert(key.to_owned(), value.clone());
                }
            }
            time_window(&Value::Object(older), "MultipleCondition")?
        }
    };
    Ok(Some(Window {
        id,
        conditions,
        time,
        reset_on_success: reset_on_success(map, "MultipleCondition")?,
    }))
}

/// The `id` of a set of conditions, as Kestra allows it.
fn window_id(map: &Map<String, Value>, owner: &str) -> Result<String, String> {
    let id = text(map, "id", owner)?;
    let mut chars = id.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && id.len() <= 100;
    match valid {
        true => Ok(id),
        false => Err(format!(
            "{owner}.id '{id}' must start with a letter or digit and hold only letters, digits, '_' and '-' (at most 100)"
        )),
    }
}

fn reset_on_success(map: &Map<String, Value>, owner: &str) -> Result<bool, String> {
    match map.get("resetOnSuccess") {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(reset)) => Ok(*reset),
        Some(_) => Err(format!("{owner}.resetOnSuccess must be true or false")),
    }
}

/// Kestra's `timeWindow`, checked as Kestra checks it: each type takes
/// only its own properties.
fn time_window(value: &Value, owner: &str) -> Result<TimeWindow, String> {
    let Value::Object(map) = value else {
        return Err(format!("{owner} must be a mapping"));
    };
    const KEYS: &[&str] = &[
        "type",
        "window",
        "windowAdvance",
        "deadline",
        "startTime",
        "endTime",
    ];
    if let Some(key) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!("unknown property '{key}' for {owner}"));
    }
    let kind = match map.get("type") {
        None | Some(Value::Null) => "DURATION_WINDOW".to_owned(),
        Some(Value::String(kind)) => kind.clone(),
        Some(_) => return Err(format!("{owner}.type must be a string")),
    };
    let given = |key: &str| map.get(key).is_some_and(|v| !v.is_null());
    let only = |keys: &[&str]| match KEYS[1..].iter().find(|k| given(k) && !keys.contains(k)) {
        Some(key) => Err(format!(
            "{owner}: a time window of type {kind} takes no '{key}'"
        )),
        None => Ok(()),
    };
    let duration = |key: &str, default: Duration| match map.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => scalar_text(value)
            .and_then(|t| parse_iso_duration(&t))
            .ok_or_else(|| format!("{owner}.{key} must be an ISO-8601 duration such as PT1H")),
    };
    let time = |key: &str| match map.get(key) {
        None | Some(Value::Null) => Err(format!(
            "{owner}: a time window of type {kind} needs '{key}'"
        )),
        Some(value) => scalar_text(value)
            .and_then(|t| {
                NaiveTime::parse_from_str(&t, "%H:%M:%S")
                    .or_else(|_| NaiveTime::parse_from_str(&t, "%H:%M"))
                    .ok()
            })
            .ok_or_else(|| format!("{owner}.{key} must be a time of day such as 09:00:00")),
    };
    let day = Duration::from_secs(86_400);
    // What was met is kept for as long as the window lasts.
    let at_most_a_year = |window: Duration| match window > 366 * day {
        true => Err(format!("{owner}.window is at most P366D")),
        false => Ok(window),
    };
    match kind.as_str() {
        "DURATION_WINDOW" => {
            only(&["window", "windowAdvance"])?;
            let window = at_most_a_year(duration("window", day)?)?;
            if window.is_zero() {
                return Err(format!("{owner}.window must be longer than zero"));
            }
            Ok(TimeWindow::Duration {
                window,
                advance: duration("windowAdvance", Duration::ZERO)?,
            })
        }
        "SLIDING_WINDOW" => {
            only(&["window"])?;
            let window = at_most_a_year(duration("window", day)?)?;
            if window.is_zero() {
                return Err(format!("{owner}.window must be longer than zero"));
            }
            Ok(TimeWindow::Sliding { window })
        }
        "DAILY_TIME_WINDOW" => {
            only(&["startTime", "endTime"])?;
            let (start, end) = (time("startTime")?, time("endTime")?);
            if start >= end {
                return Err(format!("{owner}: startTime must come before endTime"));
            }
            Ok(TimeWindow::DailyWindow { start, end })
        }
        "DAILY_TIME_DEADLINE" => {
            only(&["deadline"])?;
            Ok(TimeWindow::DailyDeadline {
                deadline: time("deadline")?,
            })
        }
        other => Err(format!(
            "{owner}.type '{other}' is not a time window: use DURATION_WINDOW, SLIDING_WINDOW, DAILY_TIME_WINDOW or DAILY_TIME_DEADLINE"
        )),
    }
}

/// One of `preconditions.flows`.
fn upstream_flow(value: &Value) -> Result<Condition, String> {
    let Value::Object(flow) = value else {
        return Err("preconditions.flows: each flow is a mapping".into());
    };
    for key in flow.keys() {
        if !["namespace", "flowId", "states", "labels"].contains(&key.as_str()) {
            return Err(format!("unknown property '{key}' for preconditions.flows"));
        }
    }
    Ok(Condition::Upstream {
        namespace: text(flow, "namespace", "preconditions.flows")?,
        flow_id: match flow.get("flowId") {
            None | Some(Value::Null) => None,
            Some(id) => Some(scalar_text(id).ok_or("preconditions.flows.flowId must be a string")?),
        },
        states: match flow.get("states") {
            None | Some(Value::Null) => None,
            Some(states) => Some(end_states(states, "preconditions.flows.states")?),
        },
        labels: match flow.get("labels") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(labels)) => labels
                .iter()
                .map(|(k, v)| {
                    scalar_text(v)
                        .map(|v| (k.clone(), v))
                        .ok_or_else(|| "label values must be strings".to_owned())
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("preconditions.flows.labels must be a mapping".into()),
        },
    })
}

/// One of `preconditions.where`, with its id.
fn where_condition(value: &Value) -> Result<(String, Condition), String> {
    let Value::Object(filter) = value else {
        return Err("preconditions.where: each entry is a mapping".into());
    };
    for key in filter.keys() {
        if !["id", "operand", "filters"].contains(&key.as_str()) {
            return Err(format!("unknown property '{key}' for preconditions.where"));
        }
    }
    let id = text(filter, "id", "preconditions.where")?;
    let any = match filter.get("operand") {
        None | Some(Value::Null) => false,
        Some(Value::String(operand)) if operand == "AND" => false,
        Some(Value::String(operand)) if operand == "OR" => true,
        Some(other) => return Err(format!("operand must be AND or OR, not {other}")),
    };
    let filters = match filter.get("filters") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(where_filter)
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err("preconditions.where needs a list of filters".into()),
    };
    Ok((id, Condition::Where { any, filters }))
}

fn where_filter(value: &Value) -> Result<Filter, String> {
    let Value::Object(map) = value else {
        return Err("a filter is a mapping of field, type and value".into());
    };
    for key in map.keys() {
        if !["field", "type", "value", "values"].contains(&key.as_str()) {
            return Err(format!("unknown property '{key}' for a filter"));
        }
    }
    let value = || text(map, "value", "this filter");
    let field = match text(map, "field", "a filter")?.as_str() {
        "NAMESPACE" => Field::Namespace,
        "FLOW_ID" => Field::FlowId,
        "STATE" => Field::State,
        "EXPRESSION" => {
            let template = value()?;
            let compact: String = template.chars().filter(|c| !c.is_whitespace()).collect();
            if ["secret", "kv(", "read(", "errorLogs("]
                .iter()
                .any(|call| compact.contains(call))
            {
                return Err(
                    "an EXPRESSION filter may not use secret(), kv(), read() or errorLogs(): it is rendered for every execution that ends, with no lookups"
                        .into(),
                );
            }
            Field::Expression(template)
        }
        other => return Err(format!("unknown filter field '{other}'")),
    };
    let values = || match map.get("values") {
        Some(values) => texts(values, "values"),
        None => Err("this filter needs 'values'".into()),
    };
    let check_states = |states: &[String]| match states
        .iter()
        .find(|s| field == Field::State && !KESTRA_STATES.contains(&s.as_str()))
    {
        Some(state) => Err(format!("'{state}' is not an execution state")),
        None => Ok(()),
    };
    if let Some(Value::String(value)) = map.get("value") {
        check_states(std::slice::from_ref(value))?;
    }
    if let Some(Value::Array(_)) = map.get("values") {
        check_states(&values()?)?;
    }
    let kind = text(map, "type", "a filter")?;
    let is_test = matches!(
        kind.as_str(),
        "IS_TRUE" | "IS_FALSE" | "IS_NULL" | "IS_NOT_NULL"
    );
    match (&field, is_test) {
        (Field::Expression(_), false) => {
            return Err(format!(
                "an EXPRESSION filter is tested with IS_TRUE, IS_FALSE, IS_NULL or IS_NOT_NULL, not {kind}"
            ));
        }
        (Field::Namespace | Field::FlowId | Field::State, true) => {
            return Err(format!(
                "{kind} tests an EXPRESSION filter; compare NAMESPACE, FLOW_ID or STATE with EQUAL_TO, NOT_EQUAL_TO, IN, NOT_IN, STARTS_WITH, ENDS_WITH, CONTAINS or REGEX"
            ));
        }
        _ => {}
    }
    // Each type reads one of `value` and `values`; the other, given too,
    // would be ignored, so it is refused.
    let lists = matches!(kind.as_str(), "IN" | "NOT_IN");
    let unread = match lists {
        true => "value",
        false => "values",
    };
    if map.get(unread).is_some_and(|v| !v.is_null()) {
        return Err(format!("a {kind} filter takes no '{unread}'"));
    }
    let test = match kind.as_str() {
        "EQUAL_TO" => Test::EqualTo(value()?),
        "NOT_EQUAL_TO" => Test::NotEqualTo(value()?),
        "IN" => Test::In(values()?),
        "NOT_IN" => Test::NotIn(values()?),
        "STARTS_WITH" => Test::StartsWith(value()?),
        "ENDS_WITH" => Test::EndsWith(value()?),
        "CONTAINS" => Test::Contains(value()?),
        "REGEX" => {
            let pattern = value()?;
            let whole = format!("^(?:{pattern})$");
            Test::Regex(
                regex::RegexBuilder::new(&whole)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("REGEX '{pattern}' is not a regular expression: {e}"))?,
            )
        }
        "IS_TRUE" => Test::IsTrue,
        "IS_FALSE" => Test::IsFalse,
        "IS_NULL" => Test::IsNull,
        "IS_NOT_NULL" => Test::IsNotNull,
        other => return Err(format!("unknown filter type '{other}'")),
    };
    Ok(Filter { field, test })
}

fn condition(value: &Value) -> Result<Condition, String> {
    let Value::Object(map) = value else {
        return Err("a condition is a mapping with a type".into());
    };
    let kind = text(map, "type", "a condition")?;
    let allowed = |keys: &[&str]| {
        map.keys()
            .find(|k| {
                !keys.contains(&k.as_str()) && !["type", "id", "description"].contains(&k.as_str())
            })
            .map_or(Ok(()), |k| {
                Err(format!("unknown property '{k}' for {kind}"))
            })
    };
    if EXECUTION_FLOW.contains(&kind.as_str()) {
        allowed(&["namespace", "flowId"])?;
        return Ok(Condition::ExecutionFlow {
            namespace: text(map, "namespace", "ExecutionFlow")?,
            flow_id: text(map, "flowId", "ExecutionFlow")?,
        });
    }
    if EXECUTION_STATUS.contains(&kind.as_str()) {
        allowed(&["in", "notIn"])?;
        let states = |key: &str| match map.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(value) => {
                let states = texts(value, key)?;
                match states.iter().find(|s| !KESTRA_STATES.contains(&s.as_str())) {
                    Some(state) => Err(format!("{key}: '{state}' is not an execution state")),
                    None => Ok(states),
                }
            }
        };
        return Ok(Condition::ExecutionStatus {
            within: states("in")?,
            not_within: states("notIn")?,
        });
    }
    if EXECUTION_NAMESPACE.contains(&kind.as_str()) {
        allowed(&["namespace", "comparison", "prefix"])?;
        if map.get("comparison").is_some_and(|c| !c.is_string())
            || map.get("prefix").is_some_and(|p| !p.is_boolean())
        {
            return Err(
                "comparison must be EQUALS, PREFIX or SUFFIX, and prefix true or false".into(),
            );
        }
        let comparison = match (
            map.get("comparison").and_then(Value::as_str),
            map.get("prefix").and_then(Value::as_bool),
        ) {
            (Some("PREFIX"), _) | (None, Some(true)) => Comparison::Prefix,
            (Some("SUFFIX"), _) => Comparison::Suffix,
            (Some("EQUALS") | None, _) => Comparison::Equals,
            (Some(other), _) => {
                return Err(format!(
                    "comparison must be EQUALS, PREFIX or SUFFIX, not '{other}'"
                ));
            }
        };
        return Ok(Condition::ExecutionNamespace {
            namespace: text(map, "namespace", "ExecutionNamespace")?,
            comparison,
        });
    }
    Err(format!(
        "condition type '{kind}' is not supported on a Flow trigger: use preconditions, or ExecutionFlow, ExecutionStatus, ExecutionNamespace or MultipleCondition"
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn no_render(_: &str) -> Option<String> {
        None
    }

    fn ended<'a>(
        namespace: &'a str,
        flow_id: &'a str,
        state: &'a str,
        labels: &'a BTreeMap<String, String>,
    ) -> Ended<'a> {
        Ended {
            namespace,
            flow_id,
            state,
            labels,
            render: &no_render,
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn fires(trigger: &FlowTrigger, ended: &Ended) -> bool {
        trigger.evaluate(ended, at("2026-12-03T10:00:00Z")) == Verdict::Fires
    }

    #[test]
    fn an_upstream_flow_fires_on_its_states_and_labels() {
        let trigger = FlowTrigger::parse(&json!({
            "id": "after", "type": "io.kestra.plugin.core.trigger.Flow",
            "inputs": {"date": "{{ trigger.outputs.date }}"},
            "preconditions": {"id": "flows", "flows": [
                {"namespace": "company.team", "flowId": "extract", "states": ["SUCCESS"],
                 "labels": {"env": "prod"}}]},
        }))
        .expect("valid");
        let prod: BTreeMap<_, _> = [("env".to_owned(), "prod".to_owned())].into();
        let none = BTreeMap::new();
        assert!(fires(
            &trigger,
            &ended("company.team", "extract", "SUCCESS", &prod)
        ));
        assert!(!fires(
            &trigger,
            &ended("company.team", "extract", "FAILED", &prod)
        ));
        assert!(!fires(
            &trigger,
            &ended("company.team", "extract", "SUCCESS", &none)
        ));
        assert!(!fires(
            &trigger,
            &ended("company.team", "load", "SUCCESS", &prod)
        ));
        assert!(!fires(
            &trigger,
            &ended("company", "extract", "SUCCESS", &prod)
        ));
    }

    #[test]
    fn states_where_filters_and_conditions_narrow_it() {
        let none = BTreeMap::new();
        let alert = FlowTrigger::parse(&json!({
            "id": "alert", "type": "io.kestra.plugin.core.trigger.Flow",
            "states": ["FAILED", "WARNING"],
            "preconditions": {"id": "company", "where": [{"id": "company", "filters": [
                {"field": "NAMESPACE", "type": "STARTS_WITH", "value": "company"},
                {"field": "FLOW_ID", "type": "REGEX", "value": "x|y"}]}]},
        }))
        .expect("valid");
        assert!(fires(&alert, &ended("company.team", "x", "FAILED", &none)));
        assert!(!fires(
            &alert,
            &ended("company.team", "x", "SUCCESS", &none)
        ));
        assert!(!fires(&alert, &ended("other", "x", "FAILED", &none)));
        // REGEX matches the whole value, as Java's String.matches.
        assert!(!fires(
            &alert,
            &ended("company.team", "xy", "FAILED", &none)
        ));
        let legacy = FlowTrigger::parse(&json!({
            "id": "t", "type": "io.kestra.plugin.core.trigger.Flow",
            "conditions": [
                {"type": "io.kestra.core.models.conditions.types.ExecutionFlowCondition",
                 "namespace": "a", "flowId": "b"},
                {"type": "io.kestra.plugin.core.condition.ExecutionStatus", "in": ["SUCCESS"]},
            ],
        }))
        .expect("valid");
        assert!(fires(&legacy, &ended("a", "b", "SUCCESS", &none)));
        assert!(!fires(&legacy, &ended("a", "b", "FAILED", &none)));
        assert!(!fires(&legacy, &ended("a", "c", "SUCCESS", &none)));
        let any = FlowTrigger::parse(&json!({"id": "t", "type": "x"})).expect("valid");
        assert!(fires(&any, &ended("a", "b", "KILLED", &none)));
        assert!(!fires(&any, &ended("a", "b", "RUNNING", &none)));
        // RUNNING and PAUSED only when asked for, as in Kestra.
        let passing =
            FlowTrigger::parse(&json!({"id": "t", "type": "x", "states": ["RUNNING", "PAUSED"]}))
                .expect("valid");
        assert!(fires(&passing, &ended("a", "b", "RUNNING", &none)));
        assert!(fires(&passing, &ended("a", "b", "PAUSED", &none)));
        assert!(!fires(&passing, &ended("a", "b", "SUCCESS", &none)));
    }

    #[test]
    fn an_expression_filter_is_rendered_for_the_execution() {
        let trigger = FlowTrigger::parse(&json!({"id": "t", "type": "x",
            "preconditions": {"id": "p", "where": [{"id": "w", "filters": [
                {"field": "EXPRESSION", "type": "IS_TRUE", "value": "{{ labels.some == 'label' }}"}]}]}}))
        .expect("valid");
        assert!(trigger.renders_expressions());
        let none = BTreeMap::new();
        for (rendered, expected) in [
            (Some("true"), true),
            (Some("false"), false),
            (Some("0"), false),
            (Some("-0"), false),
            (Some(""), false),
            (None, false),
        ] {
            let render = move |_: &str| rendered.map(str::to_owned);
            let observed = Ended {
                render: &render,
                ..ended("a", "b", "SUCCESS", &none)
            };
            assert_eq!(fires(&trigger, &observed), expected, "{rendered:?}");
        }
    }

    #[test]
    fn a_set_of_conditions_is_met_by_several_executions_in_its_window() {
        let trigger = FlowTrigger::parse(&json!({"id": "t", "type": "x",
            "conditions": [
                {"type": "io.kestra.plugin.core.condition.ExecutionStatus", "in": ["SUCCESS"]},
                {"id": "multiple", "type": "io.kestra.plugin.core.condition.MultipleCondition",
                 "window": "P1D", "windowAdvance": "P0D", "conditions": {
                    "flow-a": {"type": "io.kestra.plugin.core.condition.ExecutionFlow",
                               "namespace": "n", "flowId": "a"},
                    "flow-b": {"type": "io.kestra.plugin.core.condition.ExecutionFlow",
                               "namespace": "n", "flowId": "b"}}}]}))
        .expect("valid");
        let none = BTreeMap::new();
        let now = at("2026-12-03T10:00:00Z");
        let Verdict::Meets(marks) = trigger.evaluate(&ended("n", "a", "SUCCESS", &none), now)
        else {
            panic!("flow a meets a part of the set");
        };
        assert_eq!(marks.len(), 1);
        assert!(
            marks[0].window_id.starts_with("multiple~"),
            "{}",
            marks[0].window_id
        );
        // A changed set is kept under another key.
        let changed = FlowTrigger::parse(&json!({"id": "t", "type": "x",
            "conditions": [{"id": "multiple", "type": "io.kestra.plugin.core.condition.MultipleCondition",
                "conditions": {
                    "flow-a": {"type": "io.kestra.plugin.core.condition.ExecutionFlow",
                               "namespace": "n", "flowId": "a"},
                    "flow-b": {"type": "io.kestra.plugin.core.condition.ExecutionFlow",
                               "namespace": "n", "flowId": "z"}}}]}))
        .expect("valid");
        let Verdict::Meets(other) = changed.evaluate(&ended("n", "a", "SUCCESS", &none), now)
        else {
            panic!("flow a meets a part of the changed set");
        };
        assert_ne!(other[0].window_id, marks[0].window_id);
        assert_eq!(marks[0].met, ["flow-a"]);
        assert_eq!(marks[0].all, ["flow-a", "flow-b"]);
        assert_eq!(
            marks[0].start_ms,
            at("2026-12-03T00:00:00Z").timestamp_millis()
        );
        assert_eq!(
            marks[0].end_ms,
            at("2026-12-04T00:00:00Z").timestamp_millis()
        );
        assert!(marks[0].reset_on_success);
        // A failed execution does not pass the plain condition; another
        // flow meets none of the set.
        assert_eq!(
            trigger.evaluate(&ended("n", "a", "FAILED", &none), now),
            Verdict::No
        );
        assert_eq!(
            trigger.evaluate(&ended("n", "c", "SUCCESS", &none), now),
            Verdict::No
        );
        // Preconditions number their conditions as Kestra does.
        let pre = FlowTrigger::parse(&json!({"id": "t", "type": "x",
            "preconditions": {"id": "p", "resetOnSuccess": false,
              "flows": [{"namespace": "n", "flowId": "a"}],
              "where": [{"id": "w", "filters": [{"field": "FLOW_ID", "type": "EQUAL_TO", "value": "b"}]}]}}))
        .expect("valid");
        let Verdict::Meets(marks) = pre.evaluate(&ended("n", "b", "SUCCESS", &none), now) else {
            panic!("flow b meets the where");
        };
        assert_eq!(marks[0].met, ["condition_2_w"]);
        assert_eq!(marks[0].all, ["condition_1", "condition_2_w"]);
        assert!(!marks[0].reset_on_success);
    }

    #[test]
    fn time_windows_fall_where_kestra_puts_them() {
        let now = at("2026-12-03T10:17:00Z");
        let span = |window: Value| {
            let time = time_window(&window, "t").expect("valid");
            let (start, end) = time.span(now);
            (start.to_rfc3339(), end.to_rfc3339())
        };
        let pair = |a: &str, b: &str| (at(a).to_rfc3339(), at(b).to_rfc3339());
        assert_eq!(
            span(json!({})),
            pair("2026-12-03T00:00:00Z", "2026-12-04T00:00:00Z")
        );
        assert_eq!(
            span(json!({"window": "PT6H", "windowAdvance": "PT3H"})),
            pair("2026-12-03T09:00:00Z", "2026-12-03T15:00:00Z")
        );
        // Before the day's advance, the window that began the day before.
        assert_eq!(
            span(json!({"window": "P1D", "windowAdvance": "PT12H"})),
            pair("2026-12-02T12:00:00Z", "2026-12-03T12:00:00Z")
        );
        assert_eq!(
            span(json!({"type": "SLIDING_WINDOW", "window": "PT1H"})),
            pair("2026-12-03T10:17:00Z", "2026-12-03T11:17:00Z")
        );
        assert_eq!(
            span(json!({"type": "DAILY_TIME_WINDOW", "startTime": "06:00:00", "endTime": "09:00"})),
            pair("2026-12-03T06:00:00Z", "2026-12-03T09:00:00Z")
        );
        assert_eq!(
            span(json!({"type": "DAILY_TIME_DEADLINE", "deadline": "11:00:00"})),
            pair("2026-12-03T00:00:00Z", "2026-12-03T11:00:00Z")
        );
        // Outside its daily window a set counts nothing.
        let late = FlowTrigger::parse(&json!({"id": "t", "type": "x",
            "preconditions": {"id": "p", "timeWindow": {"type": "DAILY_TIME_WINDOW",
              "startTime": "06:00:00", "endTime": "09:00:00"},
              "flows": [{"namespace": "n", "flowId": "a"}]}}))
        .expect("valid");
        let none = BTreeMap::new();
        assert_eq!(
            late.evaluate(&ended("n", "a", "SUCCESS", &none), now),
            Verdict::No
        );
        assert_eq!(
            late.evaluate(
                &ended("n", "a", "SUCCESS", &none),
                at("2026-12-03T07:00:00Z")
            ),
            Verdict::Fires
        );
    }

    #[test]
    fn what_aerie_does_not_evaluate_is_refused_by_name() {
        for (definition, says) in [
            (json!({"states": ["QUEUED"]}), "QUEUED is not supported"),
            (
                json!({"states": ["DONE"]}),
                "'DONE' is not an execution state",
            ),
            (
                json!({"preconditions": {"id": "p", "timeWindow": {"type": "SLIDING_WINDOW", "deadline": "09:00:00"},
                       "flows": [{"namespace": "a"}]}}),
                "takes no 'deadline'",
            ),
            (
                json!({"preconditions": {"id": "p", "timeWindow": {"type": "DAILY_TIME_DEADLINE"},
                       "flows": [{"namespace": "a"}]}}),
                "needs 'deadline'",
            ),
            (
                json!({"preconditions": {"id": "p", "timeWindow": {"type": "WEEKLY"},
                       "flows": [{"namespace": "a"}]}}),
                "is not a time window",
            ),
            (
                json!({"preconditions": {"id": "p"}}),
                "at least one of 'flows' or 'where'",
            ),
            (
                json!({"preconditions": {"id": "p", "where": [{"id": "w", "filters": [
                    {"field": "FLOW_ID", "type": "EQUAL_TO", "value": "a", "values": ["b"]}]}]}}),
                "takes no 'values'",
            ),
            (
                json!({"preconditions": {"id": "p", "where": [{"id": "w", "filters": [
                    {"field": "FLOW_ID", "type": "IN", "value": "a", "values": ["b"]}]}]}}),
                "takes no 'value'",
            ),
            (
                json!({"preconditions": {"id": "p", "timeWindow": {"window": "P400D"},
                       "flows": [{"namespace": "a"}, {"namespace": "b"}]}}),
                "at most P366D",
            ),
            (
                json!({"preconditions": {"id": "p", "where": [{"id": "w", "filters": [
                    {"field": "EXPRESSION", "type": "EQUAL_TO", "value": "{{ true }}"}]}]}}),
                "tested with IS_TRUE",
            ),
            (
                json!({"preconditions": {"id": "p", "where": [{"id": "w", "filters": [
                    {"field": "EXPRESSION", "type": "IS_TRUE", "value": "{{ secret('K') }}"}]}]}}),
                "may not use secret()",
            ),
            (
                json!({"preconditions": {"id": "p", "where": [{"id": "w", "filters": [
                    {"field": "EXPRESSION", "type": "IS_TRUE", "value": "{{ kv ('k') }}"}]}]}}),
                "may not use secret()",
            ),
            (
                json!({"preconditions": {"id": "p", "where": [{"id": "w", "filters": [
                    {"field": "FLOW_ID", "type": "REGEX", "value": "("}]}]}}),
                "is not a regular expression",
            ),
            (
                json!({"conditions": [{"type": "io.kestra.plugin.core.condition.DayWeek", "dayOfWeek": "MONDAY"}]}),
                "is not supported on a Flow trigger",
            ),
            (
                json!({"conditions": [{"id": "m", "type": "io.kestra.plugin.core.condition.MultipleCondition",
                    "conditions": {"x": {"id": "n", "type": "io.kestra.plugin.core.condition.MultipleCondition",
                        "conditions": {}}}}]}),
                "they do not nest",
            ),
            (
                json!({"conditions": [{"id": "m m", "type": "io.kestra.plugin.core.condition.MultipleCondition",
                    "conditions": {"x": {"type": "io.kestra.plugin.core.condition.ExecutionStatus"}}}]}),
                "must start with a letter or digit",
            ),
            (
                json!({"stopAfter": ["FAILED"]}),
                "unknown property 'stopAfter'",
            ),
            (
                json!({"preconditions": {"id": "p", "flows": [{"namespace": "a", "flowId": ["b"]}]}}),
                "flowId must be a string",
            ),
            (
                json!({"preconditions": {"id": "p", "where": [{"id": "w", "operand": 5, "filters": [
                    {"field": "STATE", "type": "EQUAL_TO", "value": "SUCCESS"}]}]}}),
                "operand must be AND or OR",
            ),
            (
                json!({"preconditions": {"id": "p", "where": [{"id": "w", "filters": [
                    {"field": "STATE", "type": "IN", "values": ["BANANA"]}]}]}}),
                "'BANANA' is not an execution state",
            ),
            (
                json!({"conditions": [{"type": "io.kestra.plugin.core.condition.ExecutionStatus", "in": ["BANANA"]}]}),
                "'BANANA' is not an execution state",
            ),
            (
                json!({"inputs": {"v": "{{ secret('K') }}"}}),
                "may not use secret()",
            ),
        ] {
            let err = FlowTrigger::parse(&definition).expect_err(says);
            assert!(err.contains(says), "{definition}: {err}");
        }
    }
}
