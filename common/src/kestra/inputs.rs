//! A flow's declared inputs as Kestra writes them, read once here for the
//! validator (which checks the declarations and their defaults) and the
//! executor (which checks the values an execution is started with), so a
//! property accepted at creation is the one applied at run time.

use std::sync::Arc;

use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};
use serde_json::{Number, Value};

use super::duration::parse_iso_duration;
use super::scalar_text;

/// The input types, as Kestra names them.
pub const INPUT_TYPES: &[&str] = &[
    "STRING",
    "SECRET",
    "INT",
    "FLOAT",
    "BOOLEAN",
    "DATETIME",
    "DATE",
    "TIME",
    "DURATION",
    "JSON",
    "YAML",
    "URI",
    "EMAIL",
    "FILE",
    "ENUM",
    "SELECT",
    "MULTISELECT",
    "ARRAY",
];

/// The types an ARRAY's items may have.
const ITEM_TYPES: &[&str] = &[
    "STRING", "INT", "FLOAT", "BOOLEAN", "DATETIME", "DATE", "TIME", "DURATION", "JSON", "URI",
    "EMAIL",
];

/// Properties every input takes (`name` is Kestra's older word for `id`;
/// `description` and `displayName` are shown, not checked).
const COMMON: &[&str] = &[
    "id",
    "name",
    "type",
    "description",
    "displayName",
    "required",
    "defaults",
];

/// The largest compiled `validator` pattern: the regex engine runs in time
/// linear in the input, and this bounds its memory and compile time
/// (patterns are tenant input, compiled whenever the flow is read).
const MAX_PATTERN_BYTES: usize = 64 * 1024;

/// The longest `validator` pattern as written.
const MAX_PATTERN_CHARS: usize = 1_000;

/// The most inputs one flow declares.
pub const MAX_INPUTS: usize = 100;

/// Why a declaration cannot be applied, and the property at fault (empty:
/// the input as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub property: &'static str,
    pub message: String,
}

fn problem(property: &'static str, message: impl Into<String>) -> Problem {
    Problem {
        property,
        message: message.into(),
    }
}

/// One declared input.
#[derive(Debug, Clone)]
pub struct InputDef {
    pub id: String,
    pub kind: String,
    pub required: bool,
    pub defaults: Option<Value>,
    /// ENUM, SELECT and MULTISELECT: the allowed values.
    pub values: Vec<String>,
    /// SELECT and MULTISELECT: other values are allowed too.
    pub allow_custom_value: bool,
    /// ARRAY: the type of each item.
    pub item_type: Option<String>,
    /// STRING: a regular expression the whole value must match.
    pub validator: Option<Arc<regex::Regex>>,
    /// INT, FLOAT and DURATION: `min` and `max`; DATETIME, DATE and TIME:
    /// `after` and `before`. Inclusive, as in Kestra.
    pub lower: Option<Bound>,
    pub upper: Option<Bound>,
}

/// A bound on an input's value, as written and as compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    pub written: String,
    value: Ordered,
}

/// A value of one of the input types that have an order. Only values of
/// the same input type are ever compared.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Ordered {
    /// INT: whole numbers compare exactly, beyond 2^53 too.
    Integer(i128),
    Number(f64),
    Instant(DateTime<FixedOffset>),
    Date(NaiveDate),
    Time(NaiveTime),
    Duration(Duration),
}

impl Ordered {
    /// A checked value of input type `kind` (see [`typed`]), when the
    /// type has an order.
    fn of(kind: &str, value: &Value) -> Option<Ordered> {
        let text = value.as_str();
        match kind {
            "INT" => value
                .as_i64()
                .map(i128::from)
                .or_else(|| value.as_u64().map(i128::from))
                .map(Ordered::Integer),
            "FLOAT" => value.as_f64().map(Ordered::Number),
            "DATETIME" => DateTime::parse_from_rfc3339(text?)
                .ok()
                .map(Ordered::Instant),
            "DATE" => NaiveDate::parse_from_str(text?, "%Y-%m-%d")
                .ok()
                .map(Ordered::Date),
            "TIME" => NaiveTime::parse_from_str(text?, "%H:%M:%S%.f")
                .ok()
                .map(Ordered::Time),
            "DURATION" => parse_iso_duration(text?).map(Ordered::Duration),
            _ => None,
        }
    }
}

/// The names of the lower and upper bound properties of an input type.
fn bound_names(kind: &str) -> Option<(&'static str, &'static str)> {
    match kind {
        "INT" | "FLOAT" | "DURATION" => Some(("min", "max")),
        "DATETIME" | "DATE" | "TIME" => Some(("after", "before")),
        _ => None,
    }
}

impl InputDef {
    /// Reads one `inputs` entry; the error names the property at fault.
    pub fn parse(node: &Value) -> Result<InputDef, Problem> {
        let Value::Object(map) = node else {
            return Err(problem(
                "",
                "an input must be a mapping with an id and a type",
            ));
        };
        let id = map
            .get("id")
            .or_else(|| map.get("name"))
            .and_then(scalar_text)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| problem("id", "an input needs an id"))?;
        let kind = map
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| problem("type", format!("input '{id}' needs a type")))?
            .to_owned();
        if !INPUT_TYPES.contains(&kind.as_str()) {
            return Err(problem(
                "type",
                format!(
                    "unknown input type '{}'; known: {}",
                    shorten(&kind),
                    INPUT_TYPES.join(", ")
                ),
            ));
        }
        let own: &[&str] = match kind.as_str() {
            "STRING" | "SECRET" => &["validator"],
            "INT" | "FLOAT" | "DURATION" => &["min", "max"],
            "DATETIME" | "DATE" | "TIME" => &["after", "before"],
            "ENUM" => &["values"],
            "SELECT" | "MULTISELECT" => &["values", "allowCustomValue"],
            "ARRAY" => &["itemType"],
            _ => &[],
        };
        if let Some(key) = map
            .keys()
            .find(|k| !COMMON.contains(&k.as_str()) && !own.contains(&k.as_str()))
        {
            return Err(problem(
                "",
                format!(
                    "property '{}' is not supported for a {kind} input",
                    shorten(key)
                ),
            ));
        }
        let required = match map.get("required") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(problem("required", "required must be true or false")),
        };
        let values = match map.get("values") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(scalar_text)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| problem("values", "values must be a list of strings"))?,
            Some(_) => return Err(problem("values", "values must be a list")),
        };
        if matches!(kind.as_str(), "ENUM" | "SELECT" | "MULTISELECT") && values.is_empty() {
            return Err(problem("values", format!("a {kind} input needs values")));
        }
        let allow_custom_value = match map.get("allowCustomValue") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(problem(
                    "allowCustomValue",
                    "allowCustomValue must be true or false",
                ));
            }
        };
        let item_type = match (kind.as_str(), map.get("itemType").and_then(Value::as_str)) {
            ("ARRAY", Some(item)) if ITEM_TYPES.contains(&item) => Some(item.to_owned()),
            ("ARRAY", _) => {
                return Err(problem(
                    "itemType",
                    format!(
                        "an ARRAY input needs an itemType, one of {}",
                        ITEM_TYPES.join(", ")
                    ),
                ));
            }
            _ => None,
        };
        let validator = match map.get("validator") {
            None => None,
            Some(Value::String(pattern)) => {
                if pattern.chars().count() > MAX_PATTERN_CHARS {
                    return Err(problem(
                        "validator",
                        format!("validator is longer than {MAX_PATTERN_CHARS} characters"),
                    ));
                }
                let compile = |text: &str| {
                    regex::RegexBuilder::new(text)
                        .size_limit(MAX_PATTERN_BYTES)
                        .build()
                        .map_err(|e| {
                            problem(
                                "validator",
                                format!("validator is not a valid pattern: {e}"),
                            )
                        })
                };
                // On its own first: `a)|(b` must not escape the anchors.
                compile(pattern)?;
                Some(Arc::new(compile(&format!("^(?:{pattern})$"))?))
            }
            Some(_) => return Err(problem("validator", "validator must be a string")),
        };
        let (lower, upper) = match bound_names(&kind) {
            Some((low, high)) => {
                let bound = |key: &'static str| -> Result<Option<Bound>, Problem> {
                    let Some(written) = map.get(key) else {
                        return Ok(None);
                    };
                    typed(&kind, written.clone())
                        .ok()
                        .and_then(|value| Ordered::of(&kind, &value))
                        .map(|value| {
                            let written = scalar_text(written).unwrap_or_default();
                            Some(Bound { written, value })
                        })
                        .ok_or_else(|| {
                            problem(key, format!("{key} must be a value of type {kind}"))
                        })
                };
                let (lower, upper) = (bound(low)?, bound(high)?);
                if let (Some(lower), Some(upper)) = (&lower, &upper)
                    && lower.value > upper.value
                {
                    return Err(problem(
                        high,
                        format!(
                            "{high} {} is less than {low} {}",
                            upper.written, lower.written
                        ),
                    ));
                }
                (lower, upper)
            }
            None => (None, None),
        };
        let mut def = InputDef {
            id,
            kind,
            required,
            defaults: None,
            values,
            allow_custom_value,
            item_type,
            validator,
            lower,
            upper,
        };
        def.defaults = match map.get("defaults") {
            None | Some(Value::Null) => None,
            Some(value) if value.to_string().contains("{{") => {
                return Err(problem(
                    "defaults",
                    "input defaults are taken as written; Aerie does not render templates there",
                ));
            }
            Some(value) => Some(def.check(value.clone()).map_err(|why| {
                problem(
                    "defaults",
                    format!(
                        "the default does not fit the input type {}: {why}",
                        def.kind
                    ),
                )
            })?),
        };
        Ok(def)
    }

    /// `value` as this input's type (form strings converted), or why not.
    pub fn check(&self, value: Value) -> Result<Value, String> {
        match self.kind.as_str() {
            "ENUM" | "SELECT" => {
                let text = scalar_text(&value).ok_or("expected one of the values")?;
                self.allowed(&text)?;
                Ok(Value::String(text))
            }
            "MULTISELECT" => {
                let items = match value {
                    Value::Array(items) => items,
                    Value::String(text) => serde_json::from_str::<Vec<Value>>(&text)
                        .unwrap_or_else(|_| vec![Value::String(text)]),
                    _ => return Err("expected a list of values".into()),
                };
                let mut chosen = Vec::with_capacity(items.len());
                for item in items {
                    let text = scalar_text(&item).ok_or("expected a list of values")?;
                    self.allowed(&text)?;
                    chosen.push(Value::String(text));
                }
                Ok(Value::Array(chosen))
            }
            "ARRAY" => {
                let items = match value {
                    Value::Array(items) => items,
                    Value::String(text) => serde_json::from_str::<Vec<Value>>(&text)
                        .map_err(|_| "expected a list (or a JSON array)".to_owned())?,
                    _ => return Err("expected a list".into()),
                };
                let item_type = self.item_type.as_deref().unwrap_or("STRING");
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| {
                        typed(item_type, item).map_err(|why| format!("item {i}: {why}"))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array)
            }
            kind => {
                let value = typed(kind, value)?;
                if let (Some(pattern), Some(text)) = (&self.validator, value.as_str())
                    && !pattern.is_match(text)
                {
                    let pattern = pattern
                        .as_str()
                        .trim_start_matches("^(?:")
                        .trim_end_matches(")$");
                    // A secret is never echoed, not even in a refusal.
                    let shown = if kind == "SECRET" {
                        "the value".to_owned()
                    } else {
                        format!("'{}'", shorten(text))
                    };
                    return Err(format!("{shown} does not match the validator {pattern}"));
                }
                self.within_bounds(&value)?;
                Ok(value)
            }
        }
    }

    /// Refuses a value below `min`/`after` or above `max`/`before`, in
    /// Kestra's words.
    fn within_bounds(&self, value: &Value) -> Result<(), String> {
        let Some((low, _)) = bound_names(&self.kind) else {
            return Ok(());
        };
        let Some(ordered) = Ordered::of(&self.kind, value) else {
            return Ok(());
        };
        // Kestra's words: "more than" and "less than" are inclusive there too.
        let (too_low, too_high) = if low == "min" {
            ("more than", "less than")
        } else {
            ("after", "before")
        };
        if let Some(lower) = self.lower.as_ref().filter(|b| ordered < b.value) {
            return Err(format!("it must be {too_low} `{}`", lower.written));
        }
        if let Some(upper) = self.upper.as_ref().filter(|b| ordered > b.value) {
            return Err(format!("it must be {too_high} `{}`", upper.written));
        }
        Ok(())
    }

    fn allowed(&self, text: &str) -> Result<(), String> {
        if self.allow_custom_value || self.values.iter().any(|v| v == text) {
            Ok(())
        } else {
            Err(format!(
                "'{}' is not one of {}",
                shorten(text),
                self.values.join(", ")
            ))
        }
    }
}

/// `value` as a plain input (or flow output) of type `kind`; strings (form
/// fields, rendered templates) are converted.
pub(crate) fn typed(kind: &str, value: Value) -> Result<Value, String> {
    let text = value.as_str().map(str::trim);
    match kind {
        "STRING" | "SECRET" => match value {
            Value::String(_) => Ok(value),
            Value::Number(_) | Value::Bool(_) => Ok(Value::String(value.to_string())),
            _ => Err("expected a string".into()),
        },
        "INT" => match (&value, text) {
            (Value::Number(n), _) if n.is_i64() || n.is_u64() => Ok(value),
            (_, Some(t)) => t
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("'{}' is not an integer", shorten(t))),
            _ => Err("expected an integer".into()),
        },
        "FLOAT" => match (&value, text) {
            (Value::Number(_), _) => Ok(value),
            (_, Some(t)) => t
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("'{}' is not a number", shorten(t))),
            _ => Err("expected a number".into()),
        },
        "BOOLEAN" => match (&value, text) {
            (Value::Bool(_), _) => Ok(value),
            (_, Some("true")) => Ok(Value::Bool(true)),
            (_, Some("false")) => Ok(Value::Bool(false)),
            _ => Err("expected true or false".into()),
        },
        "DATETIME" => match text {
            Some(t) => DateTime::parse_from_rfc3339(t)
                .map(|d| Value::String(d.to_rfc3339()))
                .map_err(|_| format!("'{}' is not an RFC 3339 date-time", shorten(t))),
            None => Err("expected an RFC 3339 date-time string".into()),
        },
        "DATE" => match text {
            Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map(|d| Value::String(d.to_string()))
                .map_err(|_| format!("'{}' is not a date such as 2026-01-31", shorten(t))),
            None => Err("expected a date string such as 2026-01-31".into()),
        },
        "TIME" => match text {
            Some(t) => NaiveTime::parse_from_str(t, "%H:%M:%S%.f")
                .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
                .map(|d| Value::String(d.to_string()))
                .map_err(|_| format!("'{}' is not a time such as 09:30:00", shorten(t))),
            None => Err("expected a time string such as 09:30:00".into()),
        },
        "DURATION" => match text {
            Some(t) if parse_iso_duration(t).is_some() => Ok(Value::String(t.to_owned())),
            _ => Err("expected an ISO-8601 duration such as PT30S".into()),
        },
        "JSON" => match text {
            Some(t) => serde_json::from_str(t).map_err(|e| format!("not valid JSON: {e}")),
            None => Ok(value),
        },
        "YAML" => match text {
            Some(t) => serde_saphyr::from_str_with_options::<Value>(t, super::yaml_options())
                .map_err(|e| format!("not valid YAML: {}", e.without_snippet())),
            None => Ok(value),
        },
        "URI" => match text {
            Some(t) if url::Url::parse(t).is_ok() => Ok(Value::String(t.to_owned())),
            _ => Err("expected an absolute URI such as https://example.com/x".into()),
        },
        "EMAIL" => match text {
            Some(t) if is_email(t) => Ok(Value::String(t.to_owned())),
            _ => Err("expected an email address".into()),
        },
        // A FILE's value is the storage URI of its upload.
        "FILE" => Ok(value),
        other => Err(format!("unsupported input type {other}")),
    }
}

/// One `@`, something before it, a dotted domain after it, no spaces.
fn is_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

/// Every input of a flow, read in order (the validator reports the first
/// problem of each; the executor needs them all well-formed).
pub fn parse_all(list: &[Value]) -> Result<Vec<InputDef>, Problem> {
    if list.len() > MAX_INPUTS {
        return Err(problem(
            "",
            format!(
                "a flow declares at most {MAX_INPUTS} inputs, not {}",
                list.len()
            ),
        ));
    }
    list.iter().map(InputDef::parse).collect()
}

/// The inputs a flow source declares, for a form that asks for them; empty
/// when the source does not parse (a stored flow always does).
pub fn declared_in(source: &str) -> Vec<InputDef> {
    serde_saphyr::from_str_with_options::<Value>(source, super::yaml_options())
        .ok()
        .and_then(|root| root.get("inputs").and_then(Value::as_array).cloned())
        .and_then(|list| parse_all(&list).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn def(value: Value) -> InputDef {
        InputDef::parse(&value).unwrap()
    }

    #[test]
    fn kestras_input_types_check_their_values() {
        let color = def(json!({"id": "c", "type": "ENUM", "values": ["red", "blue"]}));
        assert_eq!(color.check(json!("red")), Ok(json!("red")));
        assert!(
            color
                .check(json!("green"))
                .unwrap_err()
                .contains("not one of red, blue")
        );
        let many = def(json!({"name": "m", "type": "MULTISELECT", "values": ["a", "b"]}));
        assert_eq!(many.id, "m");
        assert_eq!(many.check(json!("[\"a\",\"b\"]")), Ok(json!(["a", "b"])));
        assert!(many.check(json!(["a", "z"])).is_err());
        let custom =
            def(json!({"id": "s", "type": "SELECT", "values": ["a"], "allowCustomValue": true}));
        assert_eq!(custom.check(json!("z")), Ok(json!("z")));
        let ints = def(json!({"id": "a", "type": "ARRAY", "itemType": "INT"}));
        assert_eq!(ints.check(json!("[1, \"2\"]")), Ok(json!([1, 2])));
        assert!(ints.check(json!(["x"])).unwrap_err().contains("item 0"));
        let code = def(json!({"id": "z", "type": "STRING", "validator": "\\d{3}"}));
        assert!(code.check(json!("123")).is_ok());
        assert!(code.check(json!("1234")).unwrap_err().contains("validator"));
        let huge = def(json!({"id": "h", "type": "INT", "max": 9_007_199_254_740_992_i64}));
        assert!(
            huge.check(json!(9_007_199_254_740_993_i64)).is_err(),
            "exact beyond 2^53"
        );
        let small = def(json!({"id": "n", "type": "INT", "min": 1, "max": 10}));
        assert_eq!(
            small.check(json!(11)),
            Err("it must be less than `10`".into())
        );
        assert_eq!(
            small.check(json!("0")),
            Err("it must be more than `1`".into())
        );
        for (kind, good, bad) in [
            ("DATE", "2026-01-31", "31/01/2026"),
            ("TIME", "09:30:00", "9h30"),
            ("DURATION", "PT1H", "an hour"),
            ("URI", "https://example.com/x", "not a uri"),
            ("EMAIL", "ann@example.com", "ann@"),
            ("YAML", "a: [1, 2]", "a: [1"),
        ] {
            let input = def(json!({"id": "x", "type": kind}));
            assert!(input.check(json!(good)).is_ok(), "{kind} {good}");
            assert!(input.check(json!(bad)).is_err(), "{kind} {bad}");
        }
        assert_eq!(
            def(json!({"id": "y", "type": "YAML"})).check(json!("a: [1, 2]")),
            Ok(json!({"a": [1, 2]}))
        );
    }

    #[test]
    fn date_time_and_duration_inputs_keep_within_their_bounds_inclusive() {
        for (declared, low, inside, high, before, after) in [
            (
                json!({"id": "d", "type": "DATE", "after": "2026-01-01", "before": "2026-12-31"}),
                "2026-01-01",
                "2026-06-15",
                "2026-12-31",
                "2025-12-31",
                "2027-01-01",
            ),
            (
                json!({"id": "t", "type": "DATETIME", "after": "2026-01-01T00:00:00Z",
                       "before": "2026-01-02T00:00:00Z"}),
                "2026-01-01T00:00:00Z",
                // The same instant in another offset is inside.
                "2026-01-01T12:00:00+02:00",
                "2026-01-02T00:00:00Z",
                "2025-12-31T23:59:59Z",
                "2026-01-02T00:00:01Z",
            ),
            (
                json!({"id": "h", "type": "TIME", "after": "09:00", "before": "17:00:00"}),
                "09:00:00",
                "12:30",
                "17:00",
                "08:59:59",
                "17:00:01",
            ),
            (
                json!({"id": "p", "type": "DURATION", "min": "PT1M", "max": "PT1H"}),
                "PT1M",
                "PT30M",
                "PT60M",
                "PT59S",
                "PT1H1S",
            ),
        ] {
            let input = def(declared.clone());
            for good in [low, inside, high] {
                assert!(input.check(json!(good)).is_ok(), "{declared} {good}");
            }
            let early = input.check(json!(before)).expect_err(before);
            let late = input.check(json!(after)).expect_err(after);
            let (low, high) = bound_names(&input.kind).expect("bounded");
            let written = |key: &str| declared[key].as_str().unwrap_or_default().to_owned();
            let (after_low, before_high) = match low {
                "min" => ("more than", "less than"),
                _ => ("after", "before"),
            };
            assert_eq!(early, format!("it must be {after_low} `{}`", written(low)));
            assert_eq!(
                late,
                format!("it must be {before_high} `{}`", written(high))
            );
        }
        // A default outside the bounds is refused when the flow is saved.
        let refused = |value: Value| InputDef::parse(&value).unwrap_err();
        let low_default = refused(json!({"id": "d", "type": "DATE", "after": "2026-01-01",
                                         "defaults": "2025-01-01"}));
        assert_eq!(low_default.property, "defaults");
        let crossed = refused(json!({"id": "d", "type": "DATE", "after": "2026-02-01",
                                     "before": "2026-01-01"}));
        assert_eq!(crossed.property, "before");
        let bad = refused(json!({"id": "p", "type": "DURATION", "min": "an hour"}));
        assert_eq!(bad.property, "min");
        assert!(bad.message.contains("DURATION"), "{}", bad.message);
        // Each type takes its own words: Kestra's DATE has no min.
        let wrong = refused(json!({"id": "d", "type": "DATE", "min": "2026-01-01"}));
        assert!(
            wrong.message.contains("'min' is not supported"),
            "{}",
            wrong.message
        );
    }

    #[test]
    fn a_secret_input_is_a_string_that_no_refusal_echoes() {
        let secret = def(json!({"id": "p", "type": "SECRET", "validator": "^[a-z]+$"}));
        assert_eq!(secret.check(json!("hunter")), Ok(json!("hunter")));
        let why = secret.check(json!("Hunter2")).expect_err("refused");
        assert!(!why.contains("Hunter2"), "{why}");
        assert!(why.contains("does not match the validator"), "{why}");
        assert!(secret.check(json!({"a": 1})).is_err());
    }

    #[test]
    fn declarations_that_cannot_be_applied_are_refused() {
        let refused = |value: Value| InputDef::parse(&value).unwrap_err().message;
        assert!(refused(json!({"id": "e", "type": "ENUM"})).contains("needs values"));
        assert!(refused(json!({"id": "a", "type": "ARRAY"})).contains("itemType"));
        assert!(
            refused(json!({"id": "s", "type": "STRING", "min": 1}))
                .contains("'min' is not supported")
        );
        assert!(
            refused(json!({"id": "s", "type": "STRING", "dependsOn": {}})).contains("dependsOn")
        );
        assert!(
            refused(json!({"id": "s", "type": "STRING", "validator": "("}))
                .contains("valid pattern")
        );
        assert!(
            refused(json!({"id": "i", "type": "INT", "defaults": "x"})).contains("does not fit")
        );
        for pattern in ["a)|(b", "\\w{500}\\w{500}"] {
            let problem = refused(json!({"id": "s", "type": "STRING", "validator": pattern}));
            assert!(problem.contains("valid pattern"), "{pattern}: {problem}");
        }
        assert!(
            refused(json!({"id": "i", "type": "INT", "min": 5, "max": 1}))
                .contains("less than min")
        );
        let many: Vec<Value> = (0..=MAX_INPUTS)
            .map(|i| json!({"id": format!("i{i}"), "type": "INT"}))
            .collect();
        assert!(parse_all(&many).unwrap_err().message.contains("at most"));
    }
}
