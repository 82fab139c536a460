//! Kestra's `pluginDefaults` (and the older `taskDefaults`): property
//! values given once per type for every task (or trigger, or condition)
//! of that type in the flow, or of every type under a prefix.
//!
//! As Kestra applies them: every mapping with a `type` that equals the
//! default's type or starts with it takes the default's values, deep-merged;
//! a default does not replace what the task writes itself, a `forced` one
//! does; between two defaults for the same property, the first listed wins.
//! flow-svc's validation applies them to its located tree
//! (`flow-svc/src/domain/validate.rs`) and the executor to the JSON it runs
//! ([`apply`]), with this module's reading and matching.

use serde_json::{Map, Value};

/// The flow properties holding defaults, the current name first.
pub const KEYS: [&str; 2] = ["pluginDefaults", "taskDefaults"];

/// One entry of `pluginDefaults`.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginDefault {
    pub type_name: String,
    pub forced: bool,
    pub values: Map<String, Value>,
}

impl PluginDefault {
    /// Whether this default applies to a mapping of type `kind`.
    pub fn applies_to(&self, kind: &str) -> bool {
        kind.starts_with(self.type_name.as_str())
            || super::canonical_task_type(kind).starts_with(self.type_name.as_str())
    }
}

/// Reads the `pluginDefaults` and `taskDefaults` of a flow (as JSON); the
/// error names the entry at fault.
pub fn parse(root: &Map<String, Value>) -> Result<Vec<PluginDefault>, String> {
    let mut all = Vec::new();
    for key in KEYS {
        let items = match root.get(key) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(items)) => items,
            Some(_) => return Err(format!("{key} must be a list")),
        };
        for (i, item) in items.iter().enumerate() {
            all.push(entry(item).map_err(|problem| format!("{key}[{i}]: {problem}"))?);
        }
    }
    Ok(all)
}

fn entry(item: &Value) -> Result<PluginDefault, String> {
    let Value::Object(map) = item else {
        return Err("a plugin default is a mapping of type, values and forced".into());
    };
    if let Some(key) = map
        .keys()
        .find(|k| !["type", "values", "forced"].contains(&k.as_str()))
    {
        return Err(format!("unknown property '{key}'"));
    }
    let type_name = match map.get("type") {
        Some(Value::String(text)) if !text.is_empty() => text.clone(),
        _ => return Err("'type' is required: a task type or a prefix of types".into()),
    };
    let values = match map.get("values") {
        Some(Value::Object(values)) => values.clone(),
        _ => return Err("'values' is required: a mapping of property values".into()),
    };
    let forced = match map.get("forced") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(forced)) => *forced,
        Some(_) => return Err("'forced' must be true or false".into()),
    };
    Ok(PluginDefault {
        type_name,
        forced,
        values,
    })
}

/// Applies the flow's defaults to every mapping with a `type` in it (the
/// defaults themselves aside). The flow must have been validated: an entry
/// that does not read is skipped here.
pub fn apply(root: &mut Value) {
    let Value::Object(map) = root else {
        return;
    };
    let defaults = parse(map).unwrap_or_default();
    if defaults.is_empty() {
        return;
    }
    for (key, value) in map.iter_mut() {
        if !KEYS.contains(&key.as_str()) {
            apply_within(value, &defaults);
        }
    }
}

fn apply_within(value: &mut Value, defaults: &[PluginDefault]) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                apply_within(child, defaults);
            }
            let Some(kind) = map.get("type").and_then(Value::as_str).map(str::to_owned) else {
                return;
            };
            let matching: Vec<&PluginDefault> =
                defaults.iter().filter(|d| d.applies_to(&kind)).collect();
            // Plain defaults under what the task writes, the first winning;
            // then forced ones over everything, the first winning.
            for default in matching.iter().filter(|d| !d.forced) {
                fill(map, &default.values);
            }
            for default in matching.iter().rev().filter(|d| d.forced) {
                force(map, &default.values);
            }
        }
        Value::Array(items) => {
            for item in items {
                apply_within(item, defaults);
            }
        }
        _ => {}
    }
}

/// Adds what `target` lacks from `values`, deep into mappings.
fn fill(target: &mut Map<String, Value>, values: &Map<String, Value>) {
    for (key, value) in values {
        match (target.get_mut(key), value) {
            (Some(Value::Object(inner)), Value::Object(more)) => fill(inner, more),
            (Some(_), _) => {}
            (None, _) => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Writes `values` over `target`, deep into mappings.
fn force(target: &mut Map<String, Value>, values: &Map<String, Value>) {
    for (key, value) in values {
        match (target.get_mut(key), value) {
            (Some(Value::Object(inner)), Value::Object(more)) => force(inner, more),
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_fill_forced_ones_override_and_prefixes_match() {
        let mut flow = json!({
            "id": "f", "namespace": "a",
            "pluginDefaults": [
                {"type": "io.kestra.plugin.core.log.Log", "values": {"level": "WARN", "message": "default"}},
                {"type": "io.kestra.plugin.core.log", "values": {"level": "ERROR", "logLevel": "INFO"}},
                {"type": "io.kestra.plugin.core.debug.Return", "forced": true, "values": {"format": "forced"}},
            ],
            "tasks": [
                {"id": "a", "type": "io.kestra.plugin.core.log.Log", "message": "mine"},
                {"id": "b", "type": "io.kestra.core.tasks.log.Log"},
                {"id": "c", "type": "io.kestra.plugin.core.flow.Sequential", "tasks": [
                    {"id": "d", "type": "io.kestra.plugin.core.debug.Return", "format": "written"},
                ]},
            ],
        });
        apply(&mut flow);
        assert_eq!(
            flow["tasks"][0],
            json!({"id": "a", "type": "io.kestra.plugin.core.log.Log", "message": "mine",
                   "level": "WARN", "logLevel": "INFO"}),
            "the task's own value stays; the first default wins over the prefix one"
        );
        assert_eq!(
            flow["tasks"][1]["message"], "default",
            "older type names too"
        );
        assert_eq!(
            flow["tasks"][2]["tasks"][0]["format"], "forced",
            "nested, forced"
        );
        assert!(flow["tasks"][2].get("level").is_none());
        assert_eq!(flow["pluginDefaults"][0]["values"]["level"], "WARN");
    }

    #[test]
    fn entries_are_read_strictly() {
        for (defaults, says) in [
            (json!([{"values": {}}]), "'type' is required"),
            (json!([{"type": "x"}]), "'values' is required"),
            (
                json!([{"type": "x", "values": {}, "forced": "yes"}]),
                "'forced' must be",
            ),
            (
                json!([{"type": "x", "values": {}, "scope": 1}]),
                "unknown property 'scope'",
            ),
            (json!({"type": "x"}), "must be a list"),
        ] {
            let root = json!({"taskDefaults": defaults});
            let err = parse(root.as_object().expect("map")).expect_err(says);
            assert!(err.contains(says), "{err}");
        }
    }
}
