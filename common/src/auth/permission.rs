//! The words of access control (DESIGN.md section 5), typed so that the
//! compiler checks them: a [`Grant`] is a permission and an action, and
//! "may use the tenant at all" is its own question, never an empty pair.

use std::fmt;

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
}
