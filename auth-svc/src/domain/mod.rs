//! Rules of identity and access, without I/O: permissions, roles, namespace
//! coverage, username and password rules.

use aerie_common::ServiceError;

pub use aerie_common::auth::{Action, Grant, Permission};

/// The predefined role of every tenant, holding every permission.
pub const ADMIN_ROLE: &str = "Admin";

/// Every grant, as the Admin role holds them.
pub fn all_grants() -> Vec<Grant> {
    Grant::all()
}

/// Parses and de-duplicates the grants of a custom role.
pub fn parse_grants(texts: &[String]) -> Result<Vec<Grant>, ServiceError> {
    let mut grants = Vec::new();
    for text in texts {
        let grant = Grant::parse(text)?;
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    if grants.is_empty() {
        return Err(ServiceError::InvalidArgument(
            "`permissions` is empty: a role needs at least one permission".to_owned(),
        ));
    }
    Ok(grants)
}

/// Whether a binding limited to `scope` covers `namespace`: the namespace
/// itself and its children (`prod` covers `prod.team`, not `production`).
pub fn namespace_covers(scope: &str, namespace: &str) -> bool {
    namespace == scope
        || (namespace.len() > scope.len()
            && namespace.starts_with(scope)
            && namespace.as_bytes()[scope.len()] == b'.')
}

/// A binding as access evaluation sees it.
#[derive(Debug, Clone)]
pub struct EffectiveBinding {
    pub grants: Vec<Grant>,
    /// `None`: the whole tenant.
    pub namespace: Option<String>,
}

/// Whether `bindings` allow `grant` on `namespace` (`None`: an operation
/// not tied to one namespace, which a namespace-limited binding never covers).
pub fn allows(bindings: &[EffectiveBinding], grant: Grant, namespace: Option<&str>) -> bool {
    bindings.iter().any(|binding| {
        binding.grants.contains(&grant)
            && match (&binding.namespace, namespace) {
                (None, _) => true,
                (Some(scope), Some(ns)) => namespace_covers(scope, ns),
                (Some(_), None) => false,
            }
    })
}

/// Where `bindings` grant `grant`: `None` everywhere, else the namespace
/// scopes (each covering its children), deduplicated and sorted.
pub fn granted_namespaces(bindings: &[EffectiveBinding], grant: Grant) -> Option<Vec<String>> {
    let mut scopes = Vec::new();
    for binding in bindings.iter().filter(|b| b.grants.contains(&grant)) {
        match &binding.namespace {
            None => return None,
            Some(scope) => scopes.push(scope.clone()),
        }
    }
    scopes.sort();
    scopes.dedup();
    Some(scopes)
}

/// Usernames: 1 to 100 characters of letters, digits and `._@-`.
pub fn parse_username(username: &str) -> Result<String, ServiceError> {
    let ok = !username.is_empty()
        && username.len() <= 100
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if ok {
        Ok(username.to_owned())
    } else {
        Err(ServiceError::InvalidArgument(format!(
            "username '{}' must be 1 to 100 characters of letters, digits and ._@-",
            username.chars().take(100).collect::<String>()
        )))
    }
}

/// Passwords: 8 to 256 characters.
pub fn check_password(password: &str) -> Result<(), ServiceError> {
    let chars = password.chars().count();
    if (8..=256).contains(&chars) {
        Ok(())
    } else {
        Err(ServiceError::InvalidArgument(
            "password must be 8 to 256 characters".to_owned(),
        ))
    }
}

/// Names of roles, groups, service accounts and API tokens (`what` says
/// which, for the message): 1 to 100 characters of letters, digits and `._-`.
pub fn parse_name(what: &str, name: &str) -> Result<String, ServiceError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(ServiceError::InvalidArgument(format!(
            "{what} name '{}' must be 1 to 100 characters of letters, digits and ._-",
            name.chars().take(100).collect::<String>()
        )))
    }
}

/// Namespaces: `^[a-z0-9][a-z0-9._-]*`, 1 to 150 characters.
pub fn parse_namespace(namespace: &str) -> Result<String, ServiceError> {
    let mut chars = namespace.chars();
    let ok = namespace.len() <= 150
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(namespace.to_owned())
    } else {
        Err(ServiceError::InvalidArgument(format!(
            "namespace '{}' must match ^[a-z0-9][a-z0-9._-]*$ (at most 150 characters)",
            namespace.chars().take(150).collect::<String>()
        )))
    }
}

/// Who a binding names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectType {
    User,
    Group,
    ServiceAccount,
}

impl SubjectType {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectType::User => "USER",
            SubjectType::Group => "GROUP",
            SubjectType::ServiceAccount => "SERVICE_ACCOUNT",
        }
    }

    pub fn parse(text: &str) -> Result<SubjectType, ServiceError> {
        match text {
            "USER" => Ok(SubjectType::User),
            "GROUP" => Ok(SubjectType::Group),
            "SERVICE_ACCOUNT" => Ok(SubjectType::ServiceAccount),
            other => Err(ServiceError::InvalidArgument(format!(
                "binding type '{other}' must be USER, GROUP or SERVICE_ACCOUNT"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_limited_binding_covers_children_only() {
        assert!(namespace_covers("prod", "prod"));
        assert!(namespace_covers("prod", "prod.team"));
        assert!(namespace_covers("prod", "prod.team.sub"));
        assert!(!namespace_covers("prod", "production"));
        assert!(!namespace_covers("prod.team", "prod"));
        assert!(!namespace_covers("prod", "pro"));
    }

    #[test]
    fn grants_parse_and_admin_has_all() {
        let read = Grant::parse("FLOW:READ").expect("valid");
        assert_eq!(read.to_string(), "FLOW:READ");
        assert!(Grant::parse("FLOW").is_err());
        assert!(Grant::parse("FLOWS:READ").is_err());
        assert!(Grant::parse("FLOW:READS").is_err());
        assert_eq!(all_grants().len(), 48);
        assert!(parse_grants(&[]).is_err());
        let parsed = parse_grants(&["FLOW:READ".into(), "FLOW:READ".into()]).expect("valid");
        assert_eq!(parsed.len(), 1);
    }

    #[test]
    fn allows_respects_grants_and_namespaces() {
        let read = Grant::parse("FLOW:READ").expect("valid");
        let write = Grant::parse("FLOW:UPDATE").expect("valid");
        let bindings = [EffectiveBinding {
            grants: vec![read],
            namespace: Some("prod".into()),
        }];
        assert!(allows(&bindings, read, Some("prod.team")));
        assert!(!allows(&bindings, read, Some("production")));
        assert!(!allows(&bindings, read, None));
        assert!(!allows(&bindings, write, Some("prod")));
        let tenant_wide = [EffectiveBinding {
            grants: vec![read],
            namespace: None,
        }];
        assert!(allows(&tenant_wide, read, None));
        assert!(allows(&tenant_wide, read, Some("anything")));
    }

    #[test]
    fn names_and_passwords() {
        assert!(parse_username("alice@example.com").is_ok());
        assert!(parse_username("").is_err());
        assert!(parse_username("al ice").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
        assert!(parse_namespace("company.team").is_ok());
        assert!(parse_namespace("Company").is_err());
        assert!(parse_name("role", "Viewer").is_ok());
        let err = parse_name("group", "no spaces").expect_err("invalid");
        assert!(
            err.to_string().starts_with("group name 'no spaces'"),
            "{err}"
        );
        assert!(SubjectType::parse("ROBOT").is_err());
    }
}
