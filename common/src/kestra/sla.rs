//! A flow's `sla` as Kestra writes it: each entry is violated when the
//! execution runs longer than a duration (`MAX_DURATION`) or when an
//! expression is false at its end (`EXECUTION_ASSERTION`). A violation adds
//! the entry's `labels` to the execution and, by `behavior`, fails it
//! (`FAIL`), cancels it (`CANCEL`) or does nothing more (`NONE`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::duration::parse_iso_duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Sla {
    pub id: String,
    pub kind: Kind,
    pub behavior: Behavior,
    /// Added to the execution's labels when violated.
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    MaxDuration(Duration),
    /// A template, violated when it renders false.
    Assertion(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    Fail,
    Cancel,
    None,
}

/// SLAs of one flow at most: each is checked for every execution.
pub const MAX_SLAS: usize = 20;

impl Sla {
    /// Reads a flow's `sla` list; the error names the entry and property at
    /// fault.
    pub fn parse_all(node: &Value) -> Result<Vec<Sla>, String> {
        let Value::Array(items) = node else {
            return Err("sla must be a list of SLA definitions".into());
        };
        if items.len() > MAX_SLAS {
            return Err(format!("a flow has at most {MAX_SLAS} SLAs"));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| Sla::parse(item).map_err(|problem| format!("sla[{i}]: {problem}")))
            .collect()
    }

    fn parse(node: &Value) -> Result<Sla, String> {
        let Value::Object(map) = node else {
            return Err("an SLA is a mapping with id, type and behavior".into());
        };
        let known = ["id", "type", "behavior", "duration", "assert", "labels"];
        if let Some(key) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!("unknown property '{key}' for an SLA"));
        }
        let text = |key: &str| map.get(key).and_then(Value::as_str);
        let id = text("id")
            .filter(|id| !id.is_empty())
            .ok_or("an SLA needs an id")?
            .to_owned();
        let kind =
            match text("type") {
                Some("MAX_DURATION") => {
                    if map.contains_key("assert") {
                        return Err("'assert' is for EXECUTION_ASSERTION SLAs".into());
                    }
                    let duration = text("duration")
                        .ok_or("a MAX_DURATION SLA needs a duration (ISO-8601, e.g. PT1H)")?;
                    Kind::MaxDuration(parse_iso_duration(duration).ok_or_else(|| {
                        format!("duration '{duration}' is not an ISO-8601 duration")
                    })?)
                }
                Some("EXECUTION_ASSERTION") => {
                    if map.contains_key("duration") {
                        return Err("'duration' is for MAX_DURATION SLAs".into());
                    }
                    Kind::Assertion(
                        text("assert")
                            .filter(|a| !a.trim().is_empty())
                            .ok_or("an EXECUTION_ASSERTION SLA needs an assert expression")?
                            .to_owned(),
                    )
                }
                _ => return Err("an SLA's type is MAX_DURATION or EXECUTION_ASSERTION".into()),
            };
        let behavior = match text("behavior") {
            Some("FAIL") => Behavior::Fail,
            Some("CANCEL") => Behavior::Cancel,
            Some("NONE") => Behavior::None,
            _ => return Err("an SLA's behavior is FAIL, CANCEL or NONE".into()),
        };
        let labels = match map.get("labels") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(labels)) => labels
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    Value::Number(_) | Value::Bool(_) => Ok((k.clone(), v.to_string())),
                    _ => Err(format!("label '{k}' must be a text value")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("an SLA's labels are a mapping of keys to values".into()),
        };
        if let Some(key) = labels.keys().find(|k| k.starts_with("system.")) {
            return Err(format!("an SLA cannot set the system label '{key}'"));
        }
        Ok(Sla {
            id,
            kind,
            behavior,
            labels,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn slas_read_as_kestra_writes_them() {
        let slas = Sla::parse_all(&json!([
            {"id": "max", "type": "MAX_DURATION", "behavior": "FAIL", "duration": "PT0.5S"},
            {"id": "ok", "type": "EXECUTION_ASSERTION", "behavior": "NONE",
             "assert": "{{ inputs.x != 'y' }}", "labels": {"sla": "violated", "n": 1}},
        ]))
        .unwrap();
        assert_eq!(slas[0].kind, Kind::MaxDuration(Duration::from_millis(500)));
        assert_eq!(slas[0].behavior, Behavior::Fail);
        assert_eq!(slas[1].behavior, Behavior::None);
        assert_eq!(slas[1].labels["n"], "1");
        for (bad, words) in [
            (json!({}), "sla must be a list"),
            (
                json!([{"type": "MAX_DURATION"}]),
                "sla[0]: an SLA needs an id",
            ),
            (
                json!([{"id": "a", "type": "MAX_DURATION", "behavior": "FAIL"}]),
                "needs a duration",
            ),
            (
                json!([{"id": "a", "type": "EXECUTION_ASSERTION", "behavior": "FAIL"}]),
                "needs an assert",
            ),
            (
                json!([{"id": "a", "type": "MAX_DURATION", "behavior": "WARN", "duration": "PT1S"}]),
                "FAIL, CANCEL or NONE",
            ),
            (
                json!([{"id": "a", "type": "OTHER"}]),
                "MAX_DURATION or EXECUTION_ASSERTION",
            ),
            (
                json!([{"id": "a", "type": "MAX_DURATION", "behavior": "FAIL", "duration": "PT1S", "x": 1}]),
                "unknown property 'x'",
            ),
            (
                json!([{"id": "a", "type": "MAX_DURATION", "behavior": "FAIL", "duration": "PT1S",
                        "labels": {"system.x": "y"}}]),
                "system label",
            ),
        ] {
            let problem = Sla::parse_all(&bad).unwrap_err();
            assert!(problem.contains(words), "{problem} / {words}");
        }
    }
}
