//! Rules of tenants, without I/O: which names are valid and how tenants
//! look on the wire.

use aerie_common::ServiceError;
use aerie_common::quota::QuotaOverrides;
use aerie_common::time::to_timestamp;
use aerie_proto::tenant::v1 as pb;
use chrono::{DateTime, Utc};

/// Longest tenant display name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Fields a tenant list can be sorted by (the first is the default).
pub const SORT_FIELDS: &[&str] = &["id", "name", "createTime"];

/// A stored tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub deleted: bool,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    /// Where its quotas differ from the instance defaults.
    pub quotas: QuotaOverrides,
}

/// Checks a display name: trimmed, 1 to 200 characters, no control characters.
pub fn parse_name(name: &str) -> Result<String, ServiceError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ServiceError::InvalidArgument(
            "tenant name is required".to_owned(),
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ServiceError::InvalidArgument(format!(
            "tenant name is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ServiceError::InvalidArgument(
            "tenant name must not contain control characters".to_owned(),
        ));
    }
    Ok(name.to_owned())
}

impl From<Tenant> for pb::Tenant {
    fn from(tenant: Tenant) -> Self {
        pb::Tenant {
            id: tenant.id,
            name: tenant.name,
            deleted: tenant.deleted,
            create_time: Some(to_timestamp(tenant.create_time)),
            update_time: Some(to_timestamp(tenant.update_time)),
            quotas: Some(tenant.quotas.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  Staging ").expect("valid"), "Staging");
        assert!(parse_name("").is_err());
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"é".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(parse_name(&"é".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(parse_name("bad\u{0}name").is_err());
    }
}
