//! Fields that Kestra's clients (its UI, its Terraform provider, scripts
//! written against Kestra) send in tenant, user, group, role and binding
//! bodies and that Aerie has no use for. Ignoring one changes nothing only
//! when it is empty (`null`, `""`, `false`, `[]` or `{}`), so then it is
//! accepted; otherwise it is refused by name with what Aerie does instead,
//! never dropped.

use axum::http::StatusCode;

use crate::error::ApiError;

/// A Kestra field Aerie does not keep: whatever JSON the client sent.
pub type Unused = Option<serde_json::Value>;

/// Whether ignoring `value` loses nothing.
pub fn is_empty(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => true,
        serde_json::Value::Bool(b) => !b,
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(items) => items.is_empty(),
        serde_json::Value::Object(map) => map.is_empty(),
        serde_json::Value::Number(_) => false,
    }
}

/// Refuses the first of `fields` (name, value, what Aerie does instead)
/// that is set to something ignoring would lose.
pub fn refuse_unless_empty(fields: &[(&str, &Unused, &str)]) -> Result<(), ApiError> {
    for (name, value, instead) in fields {
        if value.as_ref().is_some_and(|v| !is_empty(v)) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("`{name}` is not supported by Aerie: {instead}"),
            ));
        }
    }
    Ok(())
}

/// Refuses Kestra's names for fields Aerie calls otherwise, when the
/// meaning differs (Kestra's ids are not Aerie's names).
pub fn refuse_renamed(fields: &[(&str, &Unused, &str)]) -> Result<(), ApiError> {
    for (name, value, instead) in fields {
        if value.is_some() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("`{name}` is Kestra's; Aerie's body says {instead}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_empty_values_are_ignored() {
        for empty in [json!(null), json!(""), json!(false), json!([]), json!({})] {
            assert!(is_empty(&empty), "{empty}");
        }
        for kept in [
            json!("x"),
            json!(true),
            json!([1]),
            json!({"a": 1}),
            json!(0),
        ] {
            assert!(!is_empty(&kept), "{kept}");
        }
        let blank = Some(json!(""));
        let set = Some(json!("ops team"));
        assert!(refuse_unless_empty(&[("description", &blank, "no descriptions")]).is_ok());
        let refused = refuse_unless_empty(&[("description", &set, "no descriptions")])
            .expect_err("a description that would be lost");
        assert_eq!(
            refused.message,
            "`description` is not supported by Aerie: no descriptions"
        );
    }
}
