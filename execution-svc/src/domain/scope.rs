//! The variables a task's templates see. The execution's outputs live in one
//! shared table that templates read on lookup, so building a task's scope
//! costs the same for its first task and its ten-thousandth: nothing of the
//! earlier tasks' outputs is copied.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use minijinja::Value;
use minijinja::value::{Enumerator, Object};

/// What templates render against.
pub type Scope = Value;

/// The outputs of one execution's tasks, by task id; ForEach children by
/// value too (`outputs.t[taskrun.value]`), and inside nested ForEach loops
/// by each enclosing loop's value first, as Kestra keys them
/// (`outputs.t[outer][inner]`).
#[derive(Debug, Clone, Default)]
pub struct Outputs(Arc<Mutex<BTreeMap<String, TaskOutputs>>>);

#[derive(Debug, Clone)]
enum TaskOutputs {
    One(Value),
    PerValue(PerValue),
}

/// The outputs of a task inside a ForEach, by the value of the iteration
/// (a nested level is itself a `PerValue`).
#[derive(Debug, Clone, Default)]
struct PerValue(Arc<Mutex<BTreeMap<String, Value>>>);

impl Outputs {
    /// Records the outputs of `task`, under the values of the iterations it
    /// runs in (outermost first; none outside any ForEach).
    pub fn record(&self, task: &str, values: &[&str], outputs: &serde_json::Value) {
        let outputs = to_value(outputs);
        let mut tasks = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let Some((last, enclosing)) = values.split_last() else {
            tasks.insert(task.to_owned(), TaskOutputs::One(outputs));
            return;
        };
        let entry = tasks
            .entry(task.to_owned())
            .or_insert_with(|| TaskOutputs::PerValue(PerValue::default()));
        if let TaskOutputs::One(_) = entry {
            *entry = TaskOutputs::PerValue(PerValue::default());
        }
        let TaskOutputs::PerValue(top) = entry else {
            return;
        };
        let mut level = top.clone();
        for value in enclosing {
            let next = {
                let mut map = lock(&level.0);
                let nested = map
                    .get(*value)
                    .and_then(|v| v.downcast_object_ref::<PerValue>().cloned());
                match nested {
                    Some(nested) => nested,
                    None => {
                        let nested = PerValue::default();
                        map.insert((*value).to_owned(), Value::from_object(nested.clone()));
                        nested
                    }
                }
            };
            level = next;
        }
        lock(&level.0).insert((*last).to_owned(), outputs);
    }

    /// The live table as a template value.
    pub fn value(&self) -> Value {
        Value::from_object(self.clone())
    }
}

/// A JSON value as templates see it.
fn to_value(value: &serde_json::Value) -> Value {
    Value::from(minijinja::value::Serde(value))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Object for Outputs {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let tasks = lock(&self.0);
        match tasks.get(key.as_str()?)? {
            TaskOutputs::One(value) => Some(value.clone()),
            TaskOutputs::PerValue(per_value) => Some(Value::from_object(per_value.clone())),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let keys: Vec<Value> = lock(&self.0).keys().map(Value::from).collect();
        Enumerator::Values(keys)
    }
}

impl Object for PerValue {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        // ForEach values that are not strings are keyed by their JSON text.
        let key = match key.as_str() {
            Some(text) => text.to_owned(),
            None => serde_json::to_string(key).ok()?,
        };
        lock(&self.0).get(&key).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let keys: Vec<Value> = lock(&self.0).keys().map(Value::from).collect();
        Enumerator::Values(keys)
    }
}

/// The variables every task of one execution shares (inputs, flow,
/// execution, trigger, vars, labels), converted once.
#[derive(Debug, Clone)]
pub struct Base(BTreeMap<String, Value>);

impl Base {
    pub fn new(variables: &serde_json::Map<String, serde_json::Value>) -> Base {
        Base(
            variables
                .iter()
                .map(|(k, v)| (k.clone(), to_value(v)))
                .collect(),
        )
    }

    /// The scope of one task: the shared variables, the live outputs and
    /// the task's own `extra` variables (`taskrun`, `task`).
    pub fn scope(&self, outputs: &Outputs, extra: &[(&str, serde_json::Value)]) -> Scope {
        let mut scope = self.0.clone();
        scope.insert("outputs".into(), outputs.value());
        for (name, value) in extra {
            scope.insert((*name).to_owned(), to_value(value));
        }
        Value::from(scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: &str, scope: &Scope) -> String {
        minijinja::Environment::new()
            .render_str(template, scope)
            .unwrap()
    }

    #[test]
    fn scopes_read_outputs_recorded_after_they_were_built() {
        let base = Base::new(json!({"inputs": {"n": 2}}).as_object().unwrap());
        let outputs = Outputs::default();
        let scope = base.scope(&outputs, &[("taskrun", json!({"value": "b"}))]);
        outputs.record("first", &[], &json!({"value": "one"}));
        outputs.record("each", &["a"], &json!({"value": 1}));
        outputs.record("each", &["b"], &json!({"value": 2}));
        outputs.record("each", &["{\"k\":1}"], &json!({"value": 3}));
        outputs.record("inner", &["a", "x"], &json!({"value": 4}));
        outputs.record("inner", &["a", "y"], &json!({"value": 5}));
        outputs.record("inner", &["b", "x"], &json!({"value": 6}));
        assert_eq!(render("{{ outputs.first.value }}", &scope), "one");
        assert_eq!(
            render("{{ outputs.each[taskrun.value].value }}", &scope),
            "2"
        );
        assert_eq!(render("{{ outputs.each['a'].value }}", &scope), "1");
        assert_eq!(
            render(
                "{{ outputs.inner.a.y.value }} {{ outputs.inner['b']['x'].value }}",
                &scope
            ),
            "5 6"
        );
        assert_eq!(render("{{ inputs.n * 2 }}", &scope), "4");
        assert_eq!(
            render("{{ outputs | tojson }}", &scope).replace(' ', ""),
            r#"{"each":{"a":{"value":1},"b":{"value":2},"{\"k\":1}":{"value":3}},"first":{"value":"one"},"inner":{"a":{"x":{"value":4},"y":{"value":5}},"b":{"x":{"value":6}}}}"#
        );
        assert_eq!(
            render("{% for k in outputs %}{{ k }} {% endfor %}", &scope),
            "each first inner "
        );
    }

    #[test]
    fn a_missing_output_is_undefined() {
        let outputs = Outputs::default();
        let scope = Base::new(&serde_json::Map::new()).scope(&outputs, &[]);
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        assert!(env.render_str("{{ outputs.nope.value }}", &scope).is_err());
    }
}
