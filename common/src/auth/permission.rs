//! The words of access control (DESIGN.md section 5), typed so that the
//! compiler checks them: a [`Grant`] is a permission and an action, and
//! "may use the tenant at all" is its own question, never an empty pair.

use std::fmt;

use aerie_proto::auth::v1 as wire;

use crate::ServiceError;

/// What a permission is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    Flow,
    Execution,
    Namespace,
    Kvstore,
    Secret,
    User,
    Group,
    Role,
    Binding,
    ServiceAccount,
    Auditlog,
    Tenant,
}

/// What is done to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Create,
    Read,
    Update,
    Delete,
}

impl Permission {
    pub const ALL: [Permission; 12] = [
        Permission::Flow,
        Permission::Execution,
        Permission::Namespace,
        Permission::Kvstore,
        Permission::Secret,
        Permission::User,
        Permission::Group,
        Permission::Role,
        Permission::Binding,
        Permission::ServiceAccount,
        Permission::Auditlog,
        Permission::Tenant,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Flow => "FLOW",
            Permission::Execution => "EXECUTION",
            Permission::Namespace => "NAMESPACE",
            Permission::Kvstore => "KVSTORE",
            Permission::Secret => "SECRET",
            Permission::User => "USER",
            Permission::Group => "GROUP",
            Permission::Role => "ROLE",
            Permission::Binding => "BINDING",
            Permission::ServiceAccount => "SERVICE_ACCOUNT",
            Permission::Auditlog => "AUDITLOG",
            Permission::Tenant => "TENANT",
        }
    }

    pub fn parse(text: &str) -> Result<Permission, ServiceError> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| {
                ServiceError::InvalidArgument(format!(
                    "unknown permission '{}': use one of {}",
                    text.chars().take(100).collect::<String>(),
                    Permission::ALL.map(Permission::as_str).join(", ")
                ))
            })
    }

    /// Permissions a super admin holds in every tenant without a binding:
    /// managing tenants, users and access, never the tenant's own data.
    pub fn is_instance_administration(self) -> bool {
        matches!(
            self,
            Permission::Tenant
                | Permission::User
                | Permission::Group
                | Permission::Role
                | Permission::Binding
                | Permission::ServiceAccount
        )
    }
}

impl Action {
    pub const ALL: [Action; 4] = [Action::Create, Action::Read, Action::Update, Action::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "CREATE",
            Action::Read => "READ",
            Action::Update => "UPDATE",
            Action::Delete => "DELETE",
        }
    }

    pub fn parse(text: &str) -> Result<Action, ServiceError> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == text)
            .ok_or_else(|| {
                ServiceError::InvalidArgument(format!(
                    "unknown action '{}': use CREATE, READ, UPDATE or DELETE",
                    text.chars().take(100).collect::<String>()
                ))
            })
    }
}

/// One permission × action pair, written `FLOW:READ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Grant(pub Permission, pub Action);

impl Grant {
    pub fn permission(self) -> Permission {
        self.0
    }

    pub fn action(self) -> Action {
        self.1
    }

    pub fn parse(text: &str) -> Result<Grant, ServiceError> {
        let (permission, action) = text.split_once(':').ok_or_else(|| {
            ServiceError::InvalidArgument(format!(
                "permission '{}' must look like FLOW:READ",
                text.chars().take(100).collect::<String>()
            ))
        })?;
        Ok(Grant(
            Permission::parse(permission)?,
            Action::parse(action)?,
        ))
    }

    /// Every grant, as the Admin role holds them.
    pub fn all() -> Vec<Grant> {
        Permission::ALL
            .into_iter()
            .flat_map(|permission| {
                Action::ALL
                    .into_iter()
                    .map(move |action| Grant(permission, action))
            })
            .collect()
    }
}

/// Grants on the wire: `aerie.auth.v1.Grant`, and the permission and action
/// enums of an access question.
impl Grant {
    pub fn to_wire(self) -> wire::Grant {
        wire::Grant {
            permission: wire::Permission::from_short_name(self.0.as_str()).unwrap_or_default()
                as i32,
            action: wire::Action::from_short_name(self.1.as_str()).unwrap_or_default() as i32,
        }
    }

    /// A question's permission and action: `None` when both are
    /// unspecified ("may the caller use the tenant at all").
    pub fn from_wire_pair(permission: i32, action: i32) -> Result<Option<Grant>, ServiceError> {
        let unspecified = |n: i32| n == wire::Permission::Unspecified as i32;
        if unspecified(permission) && action == wire::Action::Unspecified as i32 {
            return Ok(None);
        }
        let permission = wire::Permission::try_from(permission)
            .ok()
            .filter(|p| *p != wire::Permission::Unspecified)
            .ok_or_else(|| {
                ServiceError::InvalidArgument(format!("unknown permission {permission}"))
            })?;
        let action = wire::Action::try_from(action)
            .ok()
            .filter(|a| *a != wire::Action::Unspecified)
            .ok_or_else(|| ServiceError::InvalidArgument(format!("unknown action {action}")))?;
        Ok(Some(Grant(
            Permission::parse(permission.short_name())?,
            Action::parse(action.short_name())?,
        )))
    }

    pub fn from_wire(grant: &wire::Grant) -> Result<Grant, ServiceError> {
        Grant::from_wire_pair(grant.permission, grant.action)?.ok_or_else(|| {
            ServiceError::InvalidArgument("a grant needs a permission and an action".into())
        })
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0.as_str(), self.1.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_read_and_print_as_kestra_writes_them() {
        let grant = Grant::parse("SERVICE_ACCOUNT:UPDATE").expect("grant");
        assert_eq!(grant, Grant(Permission::ServiceAccount, Action::Update));
        assert_eq!(grant.to_string(), "SERVICE_ACCOUNT:UPDATE");
        for bad in ["FLOW", "FLOW:READS", "flow:read", ":", ""] {
            assert!(Grant::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Grant::all().len(), 48);
    }

    #[test]
    fn every_grant_crosses_the_wire_and_back() {
        for grant in Grant::all() {
            assert_eq!(Grant::from_wire(&grant.to_wire()).expect("known"), grant);
        }
        assert_eq!(Grant::from_wire_pair(0, 0).expect("a use question"), None);
        for (permission, action) in [(1, 0), (0, 2), (99, 2), (1, 99)] {
            assert!(Grant::from_wire_pair(permission, action).is_err());
        }
    }
}
