//! A flow's `outputs` (Kestra's `Output`: `id`, `type`, `value`,
//! `description`, `displayName`): read once here for flow-svc's validator
//! and for the executor, which converts each rendered value to its type as
//! Kestra does, so a declared type is applied, never just accepted.

use serde_json::Value;

use super::inputs::{INPUT_TYPES, typed};
use super::scalar_text;

/// The properties a flow output may have.
const PROPERTIES: &[&str] = &["id", "type", "value", "description", "displayName"];

/// One declared flow output.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputDef {
    pub id: String,
    /// Absent: the rendered value as it is.
    pub kind: Option<String>,
    /// The template (or value) rendered at the end of the run.
    pub value: Value,
}

impl OutputDef {
    /// One declaration, or what is wrong with it (the property it is about
    /// first, for a located finding).
    pub fn parse(node: &Value) -> Result<OutputDef, (&'static str, String)> {
        let Value::Object(map) = node else {
            return Err((
                "",
                "an output must be a mapping with an id and a value".into(),
            ));
        };
        if let Some(key) = map.keys().find(|k| !PROPERTIES.contains(&k.as_str())) {
            return Err((
                "",
                format!(
                    "property '{}' is not supported for a flow output; use {}",
                    key.chars().take(64).collect::<String>(),
                    PROPERTIES.join(", ")
                ),
            ));
        }
        let id = map
            .get("id")
            .and_then(scalar_text)
            .filter(|id| !id.is_empty())
            .ok_or(("id", "an output needs an id".to_owned()))?;
        let value = map
            .get("value")
            .cloned()
            .ok_or(("value", format!("output '{id}' needs a value")))?;
        let kind = match map.get("type") {
            None | Some(Value::Null) => None,
            Some(Value::String(kind)) if kind == "SECRET" => {
                return Err((
                    "type",
                    "SECRET flow outputs are not supported by Aerie (the value would be stored as given); a SECRET input of the flow that reads it keeps it sealed".into(),
                ));
            }
            Some(Value::String(kind)) if INPUT_TYPES.contains(&kind.as_str()) => Some(kind.clone()),
            Some(other) => {
                return Err((
                    "type",
                    format!(
                        "unknown output type {}; known: {}",
                        other.to_string().chars().take(64).collect::<String>(),
                        INPUT_TYPES
                            .iter()
                            .filter(|t| **t != "SECRET")
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        };
        Ok(OutputDef { id, kind, value })
    }

    /// The rendered value as this output's type, as Kestra converts it:
    /// strings and choices as they are, lists from a list or JSON text,
    /// text to numbers, booleans, dates, JSON and the rest; or why not.
    pub fn convert(&self, rendered: Value) -> Result<Value, String> {
        let refused =
            |kind: &str, why: String| format!("output '{}' is not a valid {kind}: {why}", self.id);
        match self.kind.as_deref() {
            None | Some("STRING" | "EMAIL" | "ENUM" | "SELECT") => Ok(rendered),
            Some(kind @ ("ARRAY" | "MULTISELECT")) => match rendered {
                Value::Array(_) => Ok(rendered),
                Value::String(text) => match serde_json::from_str::<Value>(&text) {
                    Ok(list @ Value::Array(_)) => Ok(list),
                    _ => Err(refused(kind, "expected a list or a JSON array".into())),
                },
                _ => Err(refused(kind, "expected a list".into())),
            },
            Some(kind) => typed(kind, rendered).map_err(|why| refused(kind, why)),
        }
    }
}

/// Every output of a flow's `outputs` list.
pub fn parse_all(list: &[Value]) -> Result<Vec<OutputDef>, (usize, &'static str, String)> {
    list.iter()
        .enumerate()
        .map(|(i, node)| OutputDef::parse(node).map_err(|(at, why)| (i, at, why)))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_declared_type_converts_the_rendered_value_as_kestra_does() {
        let output = |kind: &str| {
            OutputDef::parse(&json!({"id": "o", "type": kind, "value": "{{ x }}"})).expect("valid")
        };
        assert_eq!(output("INT").convert(json!("42")), Ok(json!(42)));
        assert_eq!(output("BOOLEAN").convert(json!("true")), Ok(json!(true)));
        assert_eq!(
            output("JSON").convert(json!("{\"a\": 1}")),
            Ok(json!({"a": 1}))
        );
        assert_eq!(output("STRING").convert(json!("x")), Ok(json!("x")));
        assert_eq!(
            output("STRING").convert(json!({"a": 1})),
            Ok(json!({"a": 1}))
        );
        assert_eq!(output("ARRAY").convert(json!("[1, 2]")), Ok(json!([1, 2])));
        assert!(output("ARRAY").convert(json!("1, 2")).is_err());
        let refused = output("INT")
            .convert(json!("forty"))
            .expect_err("not an INT");
        assert!(
            refused.contains("output 'o' is not a valid INT"),
            "{refused}"
        );
        let untyped = OutputDef::parse(&json!({"id": "o", "value": 1})).expect("valid");
        assert_eq!(untyped.convert(json!("1")), Ok(json!("1")));
    }

    #[test]
    fn what_cannot_be_applied_is_refused_by_name() {
        let why = |node: Value| OutputDef::parse(&node).expect_err("refused").1;
        assert!(
            why(json!({"id": "o", "type": "SECRET", "value": "x"})).contains("SECRET flow outputs")
        );
        assert!(
            why(json!({"id": "o", "type": "MONEY", "value": "x"})).contains("unknown output type")
        );
        assert!(why(json!({"id": "o", "type": "INT"})).contains("needs a value"));
        assert!(why(json!({"id": "o", "value": "x", "required": true})).contains("'required'"));
        assert!(why(json!({"value": "x"})).contains("needs an id"));
    }
}
