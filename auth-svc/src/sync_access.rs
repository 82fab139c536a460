//! Kestra's `auths users sync-access`, for instances moving onto named
//! tenants: the default tenant's bindings copied into a tenant, and a report
//! of who holds what where. Shared by the CLI (server stopped, trusted by
//! holding the configuration) and the super admin's API.

use std::collections::HashMap;

use aerie_common::audit::AuditEntry;
use aerie_common::{ServiceError, TenantId};

use crate::core::AuthCore;
use crate::domain::{ADMIN_ROLE, SubjectType};
use crate::repo::{self, SystemScan, TenantTxn, bindings, now};

/// What became of one default-tenant binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Created in the tenant.
    Added,
    /// The tenant held the same binding already.
    Present,
    /// Not copied, and why.
    Skipped(String),
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Added => "ADDED",
            Outcome::Present => "PRESENT",
            Outcome::Skipped(_) => "SKIPPED",
        }
    }
}

/// One binding of the default tenant, as `sync_access` saw it.
#[derive(Debug, Clone)]
pub struct Synced {
    pub subject_type: SubjectType,
    /// Username, group name or service account name.
    pub subject: String,
    pub role: String,
    pub namespace: Option<String>,
    pub outcome: Outcome,
}

/// One user's access: per tenant (None: the default tenant), each role
/// held, as "Role", "Role on <namespace>" or "Role via group <name>".
#[derive(Debug, Clone)]
pub struct UserAccess {
    pub username: String,
    pub super_admin: bool,
    pub tenants: Vec<(Option<String>, Vec<String>)>,
}

impl AuthCore {
    /// Gives every user, group and service account of `target` the
    /// bindings it holds in the default tenant, in one transaction: users
    /// are the same everywhere; groups and service accounts are matched by
    /// name (one missing in `target` is skipped); a custom role missing in
    /// `target` is copied with its permissions, and one that exists there
    /// with other permissions skips its bindings. Running it again adds
    /// nothing.
    pub async fn sync_access(
        &self,
        target: &TenantId,
        actor: &str,
    ) -> Result<Vec<Synced>, ServiceError> {
        if target.is_default() {
            return Err(ServiceError::InvalidArgument(
                "sync-access copies the default tenant's bindings into a named tenant: name one"
                    .into(),
            ));
        }
        let default = TenantId::default_tenant();
        let (from_bindings, from_roles, group_names, account_names) = {
            let tx = TenantTxn::read(&self.db, &default).await?;
            let roles: HashMap<String, String> = repo::list_roles(&tx)
                .await?
                .into_iter()
                .map(|r| (r.name, r.permissions))
                .collect();
            let groups: HashMap<String, String> = repo::list_groups(&tx)
                .await?
                .into_iter()
                .map(|g| (g.id, g.name))
                .collect();
            let accounts: HashMap<String, String> = repo::list_service_accounts(&tx)
                .await?
                .into_iter()
                .map(|a| (a.id, a.name))
                .collect();
            (repo::list_bindings(&tx).await?, roles, groups, accounts)
        };
        let tx = TenantTxn::write(&self.db, target).await?;
        let mut report = Vec::with_capacity(from_bindings.len());
        for binding in from_bindings {
            let subject_type = SubjectType::parse(&binding.subject_type)?;
            let (subject, found) = match subject_type {
                SubjectType::User => match repo::find_user(&self.db, &binding.subject_id).await? {
                    Some(user) => (user.username, Some(user.id)),
                    None => continue,
                },
                SubjectType::Group => {
                    let Some(name) = group_names.get(&binding.subject_id) else {
                        continue;
                    };
                    let there = repo::find_group(&tx, name).await?.map(|g| g.id);
                    (name.clone(), there)
                }
                SubjectType::ServiceAccount => {
                    let Some(name) = account_names.get(&binding.subject_id) else {
                        continue;
                    };
                    let there = repo::find_service_account(&tx, name).await?.map(|a| a.id);
                    (name.clone(), there)
                }
            };
            let mut seen = Synced {
                subject_type,
                subject,
                role: binding.role.clone(),
                namespace: binding.namespace.clone(),
                outcome: Outcome::Present,
            };
            let Some(subject_id) = found else {
                seen.outcome = Outcome::Skipped(format!(
                    "{} '{}' does not exist in {target}",
                    noun(subject_type),
                    seen.subject
                ));
                report.push(seen);
                continue;
            };
            if let Some(reason) = self
                .role_in(&tx, target, &binding.role, &from_roles, actor)
                .await?
            {
                seen.outcome = Outcome::Skipped(reason);
                report.push(seen);
                continue;
            }
            let existing = repo::find_binding(
                &tx,
                subject_type.as_str(),
                &subject_id,
                &binding.role,
                binding.namespace.as_deref(),
            )
            .await?;
            if existing.is_none() {
                let copy = bindings::Model {
                    id: uuid::Uuid::new_v4().to_string(),
                    tenant: target.storage_key().to_owned(),
                    subject_type: subject_type.as_str().to_owned(),
                    subject_id: subject_id.clone(),
                    role: binding.role.clone(),
                    namespace: binding.namespace.clone(),
                    create_time: now(),
                };
                repo::insert_binding(&tx, copy.clone()).await?;
                let entry = AuditEntry::new(target, "BINDING", &copy.id, "CREATE", actor)
                    .with_details(serde_json::json!({
                        "operation": "SYNC_ACCESS",
                        "type": subject_type.as_str(),
                        "subjectId": subject_id,
                        "role": copy.role,
                        "namespace": copy.namespace,
                    }));
                repo::record(tx.conn(), entry).await?;
                seen.outcome = Outcome::Added;
            }
            report.push(seen);
        }
        if report.iter().any(|s| s.outcome == Outcome::Added) {
            // Other processes' access caches learn of the new grants.
            repo::tenant_changed(&tx).await?;
        }
        tx.commit().await?;
        let added = report
            .iter()
            .filter(|s| s.outcome == Outcome::Added)
            .count();
        tracing::info!(tenant = %target, added, looked_at = report.len(), "default tenant's access synced");
        Ok(report)
    }

    /// `None` when `role` can be bound in `target` (copying a custom role
    /// that is missing there), else why not.
    async fn role_in(
        &self,
        tx: &TenantTxn,
        target: &TenantId,
        role: &str,
        from_roles: &HashMap<String, String>,
        actor: &str,
    ) -> Result<Option<String>, ServiceError> {
        if role == ADMIN_ROLE {
            return Ok(None);
        }
        let Some(permissions) = from_roles.get(role) else {
            return Ok(Some(format!(
                "role '{role}' no longer exists in the default tenant"
            )));
        };
        match repo::find_role(tx, role).await? {
            Some(there) if &there.permissions == permissions => Ok(None),
            Some(_) => Ok(Some(format!(
                "role '{role}' exists in {target} with other permissions"
            ))),
            None => {
                repo::insert_role(tx, role, permissions).await?;
                let entry = AuditEntry::new(target, "ROLE", role, "CREATE", actor).with_details(
                    serde_json::json!({"operation": "SYNC_ACCESS", "permissions": permissions}),
                );
                repo::record(tx.conn(), entry).await?;
                Ok(None)
            }
        }
    }

    /// Every user with the tenants and roles it holds, by username; a user
    /// with no tenant has no access at all (unless it is a super admin,
    /// who manages the instance without any).
    pub async fn access_report(&self) -> Result<Vec<UserAccess>, ServiceError> {
        let mut report = Vec::new();
        for page in 1.. {
            let (users, _) = self
                .list_users(aerie_common::paging::PageRequest::new(page, 1000)?)
                .await?;
            let last = users.len() < 1000;
            for user in users {
                let scan = SystemScan::begin(&self.db, "the tenants of a user").await?;
                let tenants = repo::tenants_of_user(&scan, &user.id).await?;
                drop(scan);
                let mut held = Vec::new();
                for tenant in tenants {
                    let tx = TenantTxn::read(&self.db, &tenant).await?;
                    let groups: HashMap<String, String> = repo::list_groups(&tx)
                        .await?
                        .into_iter()
                        .map(|g| (g.id, g.name))
                        .collect();
                    let mut roles: Vec<String> = repo::user_bindings(&tx, &user.id)
                        .await?
                        .into_iter()
                        .map(|b| {
                            let mut text = b.role;
                            if let Some(namespace) = b.namespace {
                                text.push_str(&format!(" on {namespace}"));
                            }
                            if b.subject_type == SubjectType::Group.as_str() {
                                let group = groups.get(&b.subject_id).cloned().unwrap_or_default();
                                text.push_str(&format!(" via group {group}"));
                            }
                            text
                        })
                        .collect();
                    roles.sort();
                    roles.dedup();
                    held.push((tenant.as_named().map(str::to_owned), roles));
                }
                held.sort();
                report.push(UserAccess {
                    username: user.username,
                    super_admin: user.super_admin,
                    tenants: held,
                });
            }
            if last {
                break;
            }
        }
        report.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(report)
    }
}

fn noun(subject_type: SubjectType) -> &'static str {
    match subject_type {
        SubjectType::User => "user",
        SubjectType::Group => "group",
        SubjectType::ServiceAccount => "service account",
    }
}
