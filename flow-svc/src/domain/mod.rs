//! The rules and types of flow-svc, without I/O: identifiers, flows as
//! stored, the YAML document model and its validation, KV values, ISO-8601
//! durations.

pub use aerie_common::kestra::document;
pub use aerie_common::kestra::duration;
pub mod kv;
pub mod reach;
pub mod validate;

use std::collections::BTreeMap;
use std::fmt;

use aerie_common::{ServiceError, TenantId};
use chrono::{DateTime, Utc};

/// A namespace: `^[a-z0-9][a-z0-9._-]*`, 1 to 150 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace(String);

/// A flow id: `^[a-zA-Z0-9][a-zA-Z0-9._-]*`, 1 to 100 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowId(String);

/// A secret or KV key: `^[a-zA-Z0-9][a-zA-Z0-9._-]*`, 1 to 255 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntryKey(String);

pub use aerie_common::kestra::{id_problem, namespace_problem, shorten};

impl Namespace {
    pub fn parse(text: &str) -> Result<Namespace, ServiceError> {
        match namespace_problem(text) {
            None => Ok(Namespace(text.to_owned())),
            Some(problem) => Err(ServiceError::InvalidArgument(problem)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This namespace, then each parent up to the root (`a.b.c`, `a.b`, `a`).
    pub fn with_parents(&self) -> Vec<String> {
        let mut all = vec![self.0.clone()];
        let mut rest = self.0.as_str();
        while let Some(cut) = rest.rfind('.') {
            rest = &rest[..cut];
            all.push(rest.to_owned());
        }
        all
    }
}

impl FlowId {
    pub fn parse(text: &str) -> Result<FlowId, ServiceError> {
        match id_problem("flow id", text, 100) {
            None => Ok(FlowId(text.to_owned())),
            Some(problem) => Err(ServiceError::InvalidArgument(problem)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl EntryKey {
    pub fn parse(what: &str, text: &str) -> Result<EntryKey, ServiceError> {
        match id_problem(what, text, 255) {
            None => Ok(EntryKey(text.to_owned())),
            Some(problem) => Err(ServiceError::InvalidArgument(problem)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A flow's address inside a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub namespace: Namespace,
    pub id: FlowId,
}

impl FlowKey {
    pub fn parse(namespace: &str, id: &str) -> Result<FlowKey, ServiceError> {
        Ok(FlowKey {
            namespace: Namespace::parse(namespace)?,
            id: FlowId::parse(id)?,
        })
    }
}

impl fmt::Display for FlowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.namespace, self.id)
    }
}

/// One revision of a flow as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub tenant: TenantId,
    pub namespace: String,
    pub id: String,
    pub revision: i32,
    pub source: String,
    pub description: String,
    pub labels: BTreeMap<String, String>,
    pub disabled: bool,
    pub deleted: bool,
    pub update_time: DateTime<Utc>,
}

/// Sort fields of flow searches and the columns they name.
pub const FLOW_SORT_FIELDS: &[&str] = &["id", "namespace", "revision", "updated"];

/// Largest flow source accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 1024 * 1024;

/// Largest secret value accepted, in bytes.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

/// Largest KV value accepted, in bytes of JSON.
pub const MAX_KV_BYTES: usize = 1024 * 1024;

/// A `key:value` label filter of a search.
pub fn parse_label_filter(text: &str) -> Result<(String, String), ServiceError> {
    match text.split_once(':') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(ServiceError::InvalidArgument(format!(
            "label filter '{}' must be key:value",
            shorten(text)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_follow_the_kestra_patterns() {
        assert!(Namespace::parse("company.team").is_ok());
        assert!(Namespace::parse("Company").is_err());
        assert!(Namespace::parse(".team").is_err());
        assert!(Namespace::parse(&"a".repeat(151)).is_err());
        assert!(FlowId::parse("Hello_world-1.2").is_ok());
        assert!(FlowId::parse("_hello").is_err());
        assert!(FlowId::parse("").is_err());
        assert!(FlowId::parse(&"a".repeat(101)).is_err());
        assert!(EntryKey::parse("secret key", "MY_SECRET").is_ok());
        assert!(EntryKey::parse("secret key", "../x").is_err());
    }

    #[test]
    fn a_namespace_lists_itself_then_its_parents() {
        let ns = Namespace::parse("a.b.c").expect("valid");
        assert_eq!(ns.with_parents(), vec!["a.b.c", "a.b", "a"]);
    }
}
