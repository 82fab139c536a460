//! Kestra's Flow trigger (`io.kestra.plugin.core.trigger.Flow`): start a
//! flow when an execution of another flow ends (or, when its `states` say
//! so, moves to RUNNING or PAUSED). One reading of its
//! properties serves flow-svc's validation and the executor that fires it.
//!
//! What Aerie carries out: `states`, `inputs` (rendered with
//! `trigger.outputs`), one precondition (an upstream flow, or one `where`
//! with NAMESPACE, FLOW_ID and STATE filters) and the ExecutionFlow,
//! ExecutionStatus and ExecutionNamespace conditions. Kestra's multi-flow
//! preconditions (all of several upstream flows within a time window) keep
//! state between executions and are refused by name, as is any condition
//! type or filter Aerie does not evaluate.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

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
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FlowTrigger {
    /// Input values of the started execution, templates of `trigger.*`.
    pub inputs: Map<String, Value>,
    /// The end states it fires on.
    pub states: Vec<String>,
    pub precondition: Option<Precondition>,
    pub conditions: Vec<Condition>,
}

/// The one precondition Aerie evaluates.
#[derive(Debug, Clone, PartialEq)]
pub enum Precondition {
    /// `preconditions.flows`: one upstream flow.
    Upstream {
        namespace: String,
        flow_id: Option<String>,
        states: Option<Vec<String>>,
        labels: BTreeMap<String, String>,
    },
    /// `preconditions.where`: filters joined by AND or OR.
    Where { any: bool, filters: Vec<Filter> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub field: Field,
    pub test: Test,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Namespace,
    FlowId,
    State,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    EqualTo(String),
    NotEqualTo(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    StartsWith(String),
    EndsWith(String),
    Contains(String),
}

/// The legacy `conditions` of a Flow trigger; all must hold.
#[derive(Debug, Clone, PartialEq)]
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
        let precondition = match map.get("preconditions") {
            None | Some(Value::Null) => None,
            Some(value) => Some(precondition(value)?),
        };
        let conditions = match map.get("conditions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.iter().map(condition).collect::<Result<_, _>>()?,
            Some(_) => return Err("conditions must be a list".into()),
        };
        Ok(FlowTrigger {
            inputs,
            states,
            precondition,
            conditions,
        })
    }

    /// Whether the end of `ended` fires this trigger.
    pub fn fires_on(&self, ended: &Ended) -> bool {
        self.states.iter().any(|s| s == ended.state)
            && self.precondition.as_ref().is_none_or(|p| p.holds(ended))
            && self.conditions.iter().all(|c| c.holds(ended))
    }
}

impl Precondition {
    fn holds(&self, ended: &Ended) -> bool {
        match self {
            Precondition::Upstream {
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
            Precondition::Where { any, filters } => {
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

impl Filter {
    fn holds(&self, ended: &Ended) -> bool {
        let field = match self.field {
            Field::Namespace => ended.namespace,
            Field::FlowId => ended.flow_id,
            Field::State => ended.state,
        };
        match &self.test {
            Test::EqualTo(v) => field == v,
            Test::NotEqualTo(v) => field != v,
            Test::In(vs) => vs.iter().any(|v| v == field),
            Test::NotIn(vs) => !vs.iter().any(|v| v == field),
            Test::StartsWith(v) => field.starts_with(v.as_str()),
            Test::EndsWith(v) => field.ends_with(v.as_str()),
            Test::Contains(v) => field.contains(v.as_str()),
        }
    }
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

fn precondition(value: &Value) -> Result<Precondition, String> {
    let Value::Object(map) = value else {
        return Err("preconditions must be a mapping".into());
    };
    for key in map.keys() {
        match key.as_str() {
            "id" | "flows" | "where" => {}
            "timeWindow" | "resetOnSuccess" => {
                return Err(format!(
                    "'preconditions.{key}' is a Kestra property that Aerie does not support: a Flow trigger fires on each matching end, with no time window"
                ));
            }
            other => return Err(format!("unknown property '{other}' for preconditions")),
        }
    }
    text(map, "id", "preconditions")?;
    let list = |key: &str| match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(_) => Err(format!("preconditions.{key} must be a list")),
    };
    let (flows, wheres) = (list("flows")?, list("where")?);
    if flows.len() + wheres.len() != 1 {
        return Err(
            "preconditions with several flows or filters (all met within a time window) are not supported: give one upstream flow or one 'where'"
                .into(),
        );
    }
    if let Some(Value::Object(flow)) = flows.first() {
        for key in flow.keys() {
            if !["namespace", "flowId", "states", "labels"].contains(&key.as_str()) {
                return Err(format!("unknown property '{key}' for preconditions.flows"));
            }
        }
        return Ok(Precondition::Upstream {
            namespace: text(flow, "namespace", "preconditions.flows")?,
            flow_id: match flow.get("flowId") {
                None | Some(Value::Null) => None,
                Some(id) => {
                    Some(scalar_text(id).ok_or("preconditions.flows.flowId must be a string")?)
                }
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
        });
    }
    let Some(Value::Object(filter)) = wheres.first() else {
        return Err("preconditions: a flow or a 'where' must be a mapping".into());
    };
    for key in filter.keys() {
        if !["id", "operand", "filters"].contains(&key.as_str()) {
            return Err(format!("unknown property '{key}' for preconditions.where"));
        }
    }
    text(filter, "id", "preconditions.where")?;
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
    Ok(Precondition::Where { any, filters })
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
    let field = match text(map, "field", "a filter")?.as_str() {
        "NAMESPACE" => Field::Namespace,
        "FLOW_ID" => Field::FlowId,
        "STATE" => Field::State,
        "EXPRESSION" => {
            return Err(
                "filter field EXPRESSION is not supported: filter on NAMESPACE, FLOW_ID or STATE"
                    .into(),
            );
        }
        other => return Err(format!("unknown filter field '{other}'")),
    };
    let value = || text(map, "value", "this filter");
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
    let test = match text(map, "type", "a filter")?.as_str() {
        "EQUAL_TO" => Test::EqualTo(value()?),
        "NOT_EQUAL_TO" => Test::NotEqualTo(value()?),
        "IN" => Test::In(values()?),
        "NOT_IN" => Test::NotIn(values()?),
        "STARTS_WITH" => Test::StartsWith(value()?),
        "ENDS_WITH" => Test::EndsWith(value()?),
        "CONTAINS" => Test::Contains(value()?),
        other @ ("IS_TRUE" | "IS_FALSE" | "IS_NULL" | "IS_NOT_NULL" | "REGEX") => {
            return Err(format!(
                "filter type {other} is not supported: use EQUAL_TO, NOT_EQUAL_TO, IN, NOT_IN, STARTS_WITH, ENDS_WITH or CONTAINS"
            ));
        }
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
        "condition type '{kind}' is not supported on a Flow trigger: use preconditions, or ExecutionFlow, ExecutionStatus or ExecutionNamespace"
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
        }
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
        assert!(trigger.fires_on(&ended("company.team", "extract", "SUCCESS", &prod)));
        assert!(!trigger.fires_on(&ended("company.team", "extract", "FAILED", &prod)));
        assert!(!trigger.fires_on(&ended("company.team", "extract", "SUCCESS", &none)));
        assert!(!trigger.fires_on(&ended("company.team", "load", "SUCCESS", &prod)));
        assert!(!trigger.fires_on(&ended("company", "extract", "SUCCESS", &prod)));
    }

    #[test]
    fn states_where_filters_and_conditions_narrow_it() {
        let none = BTreeMap::new();
        let alert = FlowTrigger::parse(&json!({
            "id": "alert", "type": "io.kestra.plugin.core.trigger.Flow",
            "states": ["FAILED", "WARNING"],
            "preconditions": {"id": "company", "where": [{"id": "company", "filters": [
                {"field": "NAMESPACE", "type": "STARTS_WITH", "value": "company"}]}]},
        }))
        .expect("valid");
        assert!(alert.fires_on(&ended("company.team", "x", "FAILED", &none)));
        assert!(!alert.fires_on(&ended("company.team", "x", "SUCCESS", &none)));
        assert!(!alert.fires_on(&ended("other", "x", "FAILED", &none)));
        let legacy = FlowTrigger::parse(&json!({
            "id": "t", "type": "io.kestra.plugin.core.trigger.Flow",
            "conditions": [
                {"type": "io.kestra.core.models.conditions.types.ExecutionFlowCondition",
                 "namespace": "a", "flowId": "b"},
                {"type": "io.kestra.plugin.core.condition.ExecutionStatus", "in": ["SUCCESS"]},
            ],
        }))
        .expect("valid");
        assert!(legacy.fires_on(&ended("a", "b", "SUCCESS", &none)));
        assert!(!legacy.fires_on(&ended("a", "b", "FAILED", &none)));
        assert!(!legacy.fires_on(&ended("a", "c", "SUCCESS", &none)));
        let any = FlowTrigger::parse(&json!({"id": "t", "type": "x"})).expect("valid");
        assert!(any.fires_on(&ended("a", "b", "KILLED", &none)));
        assert!(!any.fires_on(&ended("a", "b", "RUNNING", &none)));
        // RUNNING and PAUSED only when asked for, as in Kestra.
        let passing =
            FlowTrigger::parse(&json!({"id": "t", "type": "x", "states": ["RUNNING", "PAUSED"]}))
                .expect("valid");
        assert!(passing.fires_on(&ended("a", "b", "RUNNING", &none)));
        assert!(passing.fires_on(&ended("a", "b", "PAUSED", &none)));
        assert!(!passing.fires_on(&ended("a", "b", "SUCCESS", &none)));
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
                json!({"preconditions": {"id": "p", "timeWindow": {"type": "SLIDING_WINDOW"},
                       "flows": [{"namespace": "a"}]}}),
                "'preconditions.timeWindow' is a Kestra property",
            ),
            (
                json!({"preconditions": {"id": "p", "flows": [{"namespace": "a"}, {"namespace": "b"}]}}),
                "several flows or filters",
            ),
            (
                json!({"preconditions": {"id": "p", "where": [{"id": "w", "filters": [
                    {"field": "EXPRESSION", "type": "IS_TRUE", "value": "{{ true }}"}]}]}}),
                "EXPRESSION is not supported",
            ),
            (
                json!({"conditions": [{"type": "io.kestra.plugin.core.condition.DayWeek", "dayOfWeek": "MONDAY"}]}),
                "is not supported on a Flow trigger",
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
