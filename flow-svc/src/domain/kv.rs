//! Typed KV values, as Kestra's KV store types them.

use aerie_common::ServiceError;
use serde_json::Value;

/// The types a KV value can have.
pub const KV_TYPES: &[&str] = &[
    "STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON",
];

/// A value and its type.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedValue {
    pub kind: &'static str,
    pub value: Value,
}

/// Types `raw`: JSON when it parses (a string that reads as a date-time,
/// a date or a duration gets that type), else the raw text as a STRING.
/// With `declared`, the value must fit that type.
pub fn typed_value(raw: &str, declared: &str) -> Result<TypedValue, ServiceError> {
    let parsed = serde_json::from_str::<Value>(raw).ok();
    let inferred = match &parsed {
        None => TypedValue {
            kind: "STRING",
            value: Value::String(raw.to_owned()),
        },
        Some(value) => TypedValue {
            kind: infer(value),
            value: value.clone(),
        },
    };
    if declared.is_empty() {
        return Ok(inferred);
    }
    let Some(kind) = KV_TYPES.iter().copied().find(|t| *t == declared) else {
        return Err(ServiceError::InvalidArgument(format!(
            "KV type '{}' must be one of {}",
            super::shorten(declared),
            KV_TYPES.join(", ")
        )));
    };
    let fits = match kind {
        // A declared STRING keeps the text as sent when it is not a JSON string.
        "STRING" => {
            return Ok(TypedValue {
                kind,
                value: match parsed {
                    Some(Value::String(s)) => Value::String(s),
                    _ => Value::String(raw.to_owned()),
                },
            });
        }
        "JSON" => parsed.is_some(),
        other => inferred.kind == other,
    };
    if fits {
        Ok(TypedValue {
            kind,
            value: inferred.value,
        })
    } else {
        Err(ServiceError::InvalidArgument(format!(
            "KV value is not a {kind} (it reads as {})",
            inferred.kind
        )))
    }
}

fn infer(value: &Value) -> &'static str {
    match value {
        Value::Number(_) => "NUMBER",
        Value::Bool(_) => "BOOLEAN",
        Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => "DATETIME",
        Value::String(s) if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() => "DATE",
        Value::String(s) if super::duration::parse_iso_duration(s).is_some() => "DURATION",
        Value::String(_) => "STRING",
        Value::Null | Value::Array(_) | Value::Object(_) => "JSON",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed_like_kestra_types_them() {
        let kind = |raw: &str| typed_value(raw, "").expect("typed").kind;
        assert_eq!(kind("42"), "NUMBER");
        assert_eq!(kind("true"), "BOOLEAN");
        assert_eq!(kind("\"2026-11-28T10:00:00Z\""), "DATETIME");
        assert_eq!(kind("\"2026-11-28\""), "DATE");
        assert_eq!(kind("\"PT1H\""), "DURATION");
        assert_eq!(kind("{\"a\": 1}"), "JSON");
        assert_eq!(kind("\"hello\""), "STRING");
        let plain = typed_value("hello world", "").expect("typed");
        assert_eq!(plain.value, Value::String("hello world".into()));
        assert_eq!(typed_value("42", "STRING").expect("typed").value, "42");
        assert!(typed_value("\"x\"", "NUMBER").is_err());
        assert!(typed_value("1", "WHATEVER").is_err());
    }
}
