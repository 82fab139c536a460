//! Checking the inputs an execution is started with against the flow's
//! declared inputs: types, defaults and required ones. Every problem is
//! reported, not just the first.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::plan::InputSpec;

/// The inputs as the execution will see them, or every problem found.
///
/// `given` holds JSON or form values; `files` maps FILE inputs to the
/// storage URI their upload was written to.
pub fn resolve(
    specs: &[InputSpec],
    given: &Map<String, Value>,
    files: &BTreeMap<String, String>,
) -> Result<Map<String, Value>, Vec<String>> {
    let mut problems = Vec::new();
    for name in given.keys().chain(files.keys()) {
        if !specs.iter().any(|s| &s.id == name) {
            problems.push(format!("unknown input '{}'", shorten(name)));
        }
    }
    for name in files.keys() {
        if specs.iter().any(|s| &s.id == name && s.kind != "FILE") {
            problems.push(format!(
                "input '{}' is not a FILE: send it as a form field",
                shorten(name)
            ));
        }
    }
    let mut resolved = Map::new();
    for spec in specs {
        let value = if spec.kind == "FILE" {
            if given.contains_key(&spec.id) {
                problems.push(format!(
                    "input '{}' is a FILE: upload it as a multipart file",
                    spec.id
                ));
                continue;
            }
            files.get(&spec.id).cloned().map(Value::String)
        } else {
            given
                .get(&spec.id)
                .cloned()
                .or_else(|| spec.defaults.clone())
        };
        match value {
            None | Some(Value::Null) if spec.required => {
                problems.push(format!("input '{}' is required", spec.id));
            }
            None | Some(Value::Null) => {
                resolved.insert(spec.id.clone(), Value::Null);
            }
            Some(value) => match spec.check(value) {
                Ok(value) => {
                    resolved.insert(spec.id.clone(), value);
                }
                Err(why) => problems.push(format!("input '{}': {why}", spec.id)),
            },
        }
    }
    if problems.is_empty() {
        Ok(resolved)
    } else {
        Err(problems)
    }
}

fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(id: &str, kind: &str, required: bool, defaults: Option<Value>) -> InputSpec {
        let mut declared = json!({"id": id, "type": kind, "required": required});
        if let Some(defaults) = defaults {
            declared["defaults"] = defaults;
        }
        InputSpec::parse(&declared).expect("a valid declaration")
    }

    #[test]
    fn values_are_typed_and_defaults_apply() {
        let specs = [
            spec("s", "STRING", true, Some(json!("world"))),
            spec("i", "INT", true, None),
            spec("f", "FLOAT", true, None),
            spec("b", "BOOLEAN", true, None),
            spec("d", "DATETIME", true, None),
            spec("j", "JSON", true, None),
            spec("o", "STRING", false, None),
            spec("file", "FILE", true, None),
        ];
        let given = json!({"i": "42", "f": 1.5, "b": "true", "d": "2026-01-02T03:04:05Z", "j": "{\"a\":[1]}"});
        let files = BTreeMap::from([("file".to_owned(), "kestra:///a/f/x".to_owned())]);
        let resolved = resolve(&specs, given.as_object().unwrap(), &files).expect("valid");
        assert_eq!(
            Value::Object(resolved),
            json!({"s": "world", "i": 42, "f": 1.5, "b": true, "d": "2026-01-02T03:04:05+00:00",
                   "j": {"a": [1]}, "o": null, "file": "kestra:///a/f/x"})
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let specs = [
            spec("i", "INT", true, None),
            spec("b", "BOOLEAN", true, None),
            spec("d", "DATETIME", true, None),
            spec("j", "JSON", true, None),
            spec("need", "STRING", true, None),
            spec("file", "FILE", false, None),
        ];
        let given = json!({"i": "4.2", "b": "yes", "d": "tomorrow", "j": "{", "extra": 1, "file": "kestra:///other/x"});
        let uploaded = BTreeMap::from([("need".to_owned(), "kestra:///a/f/n".to_owned())]);
        let problems = resolve(&specs, given.as_object().unwrap(), &uploaded).unwrap_err();
        let all = problems.join("\n");
        for expected in [
            "unknown input 'extra'",
            "input 'i': '4.2' is not an integer",
            "input 'b': expected true or false",
            "input 'd': 'tomorrow' is not an RFC 3339 date-time",
            "input 'j': not valid JSON",
            "input 'need' is required",
            "input 'need' is not a FILE",
            "input 'file' is a FILE",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in {all}");
        }
    }
}
