//! Fields that Kestra's clients (its UI, its Terraform provider, scripts
//! written against Kestra) send in tenant, user, group, role and binding
//! bodies and that Aerie has no use for. Ignoring one changes nothing only
//! when it is empty (`null`, `""`, `false`, `[]` or `{}`), so then it is
//! accepted; otherwise it is refused by name with what Aerie does instead,
//! never dropped.

use axum::http::StatusCode;

use crate::error::ApiError;

/// A JSON object, as Kestra's map-valued fields are.
pub type Object = serde_json::Map<String, serde_json::Value>;

/// Whether a field Kestra sends is set to something ignoring would lose
/// (absent, `null`, `""`, `false`, `[]` and `{}` lose nothing). Each field
/// keeps its own JSON type, so a value of the wrong type is refused by the
/// body's parser like any other.
pub trait Kept {
    fn is_kept(&self) -> bool;
}

impl Kept for Option<String> {
    fn is_kept(&self) -> bool {
        self.as_ref().is_some_and(|s| !s.is_empty())
    }
}

impl Kept for Option<bool> {
    fn is_kept(&self) -> bool {
        self.unwrap_or(false)
    }
}

impl Kept for Option<Vec<String>> {
    fn is_kept(&self) -> bool {
        self.as_ref().is_some_and(|v| !v.is_empty())
    }
}

impl Kept for Option<Object> {
    fn is_kept(&self) -> bool {
        self.as_ref().is_some_and(|m| !m.is_empty())
    }
}

/// Refuses the first of `fields` (name, value, what Aerie does instead)
/// that is set to something ignoring would lose.
pub fn refuse_unless_empty(fields: &[(&str, &dyn Kept, &str)]) -> Result<(), ApiError> {
    for (name, value, instead) in fields {
        if value.is_kept() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("`{name}` is not supported by Aerie: {instead}"),
            ));
        }
    }
    Ok(())
}

/// Refuses Kestra's names for fields Aerie calls otherwise, when the
/// meaning differs (Kestra's ids are not Aerie's names), unless empty.
pub fn refuse_renamed(fields: &[(&str, &Option<String>, &str)]) -> Result<(), ApiError> {
    for (name, value, instead) in fields {
        if value.is_kept() {
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
    use super::*;

    #[test]
    fn only_empty_values_are_ignored() {
        let empty: [&dyn Kept; 6] = [
            &None::<String>,
            &Some(String::new()),
            &Some(false),
            &Some(Vec::<String>::new()),
            &Some(Object::new()),
            &None::<bool>,
        ];
        assert!(empty.iter().all(|v| !v.is_kept()));
        let mut map = Object::new();
        map.insert("key".into(), "gpu".into());
        let kept: [&dyn Kept; 4] = [
            &Some("x".to_owned()),
            &Some(true),
            &Some(vec!["a".to_owned()]),
            &Some(map),
        ];
        assert!(kept.iter().all(|v| v.is_kept()));
        let blank = Some(String::new());
        let set = Some("ops team".to_owned());
        assert!(refuse_unless_empty(&[("description", &blank, "no descriptions")]).is_ok());
        let refused = refuse_unless_empty(&[("description", &set, "no descriptions")])
            .expect_err("a description that would be lost");
        assert_eq!(
            refused.message,
            "`description` is not supported by Aerie: no descriptions"
        );
    }
}
