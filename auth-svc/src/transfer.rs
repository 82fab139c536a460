//! auth-svc's part of a tenant archive: roles, groups and their members,
//! bindings, service accounts (without their tokens: a token's secret is
//! never stored, and an archive is no way to carry one) and the audit log.
//! Users belong to the instance, not the tenant: the archive names the
//! users the tenant's bindings and groups refer to, and the import finds
//! them by username; one the instance lacks is reported and left out.
//! Groups, bindings, service accounts and audit entries get new ids (they
//! are unique across the instance).

use std::collections::HashMap;

use aerie_common::TenantId;
use aerie_common::audit::require_service_token;
use aerie_common::db::TenantTxn;
use aerie_common::tenant::scoped_tenant;
use aerie_common::transfer::{
    Archive, EntryStream, delete_tenant_rows, insert_rows, part_status, receive_part,
    stream_entries, tenant_rows,
};
use aerie_proto::transfer::internal::v1 as pb;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter};
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};

use crate::core::{AuthCore, Core};
use crate::repo::entities::{
    api_tokens, audit_logs, bindings, group_members, groups, roles, service_accounts, users,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const ROLES: &str = "auth/roles.jsonl";
const GROUPS: &str = "auth/groups.jsonl";
const MEMBERS: &str = "auth/group_members.jsonl";
const BINDINGS: &str = "auth/bindings.jsonl";
const ACCOUNTS: &str = "auth/service_accounts.jsonl";
const AUDIT: &str = "auth/audit_logs.jsonl";
const USERS: &str = "auth/users.jsonl";

/// Audit entries about the instance rather than a tenant (users belong to
/// the instance), which are kept in the default tenant's log.
const INSTANCE_RESOURCES: &[&str] = &["USER"];

/// Where an imported archive comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A file or a stream from anywhere: trusted with nothing instance-wide.
    Archive,
    /// `aerie tenants adopt-default` on this same instance: the default
    /// tenant's rows move, so its service accounts stay super admins where
    /// they were, and audit entries about the instance stay behind.
    Adoption,
}

/// A user the tenant's bindings or groups name.
#[derive(Debug, Serialize, Deserialize)]
struct NamedUser {
    id: String,
    username: String,
}

impl AuthCore {
    /// Adds the tenant's auth-svc rows to `archive`.
    pub async fn export_tenant(
        &self,
        tenant: &TenantId,
        archive: &mut Archive,
    ) -> Result<(), BoxError> {
        let tx = TenantTxn::read(&self.db, tenant).await?;
        let bindings = tenant_rows::<bindings::Entity>(&tx, bindings::Column::Tenant).await?;
        let members =
            tenant_rows::<group_members::Entity>(&tx, group_members::Column::Tenant).await?;
        archive.put_rows(
            ROLES,
            &tenant_rows::<roles::Entity>(&tx, roles::Column::Tenant).await?,
        )?;
        archive.put_rows(
            GROUPS,
            &tenant_rows::<groups::Entity>(&tx, groups::Column::Tenant).await?,
        )?;
        archive.put_rows(
            ACCOUNTS,
            &tenant_rows::<service_accounts::Entity>(&tx, service_accounts::Column::Tenant).await?,
        )?;
        archive.put_rows(
            AUDIT,
            &tenant_rows::<audit_logs::Entity>(&tx, audit_logs::Column::Tenant).await?,
        )?;
        tx.commit().await?;
        let mut user_ids: Vec<String> = bindings
            .iter()
            .filter(|b| b.subject_type == "USER")
            .map(|b| b.subject_id.clone())
            .chain(members.iter().map(|m| m.user_id.clone()))
            .collect();
        user_ids.sort();
        user_ids.dedup();
        let named: Vec<NamedUser> = users::Entity::find()
            .filter(users::Column::Id.is_in(user_ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|u| NamedUser {
                id: u.id,
                username: u.username,
            })
            .collect();
        archive.put_rows(USERS, &named)?;
        archive.put_rows(BINDINGS, &bindings)?;
        archive.put_rows(MEMBERS, &members)?;
        Ok(())
    }

    /// Writes the archive's auth-svc rows into `tenant`, in one
    /// transaction; answers what was left out, and why.
    pub async fn import_tenant(
        &self,
        tenant: &TenantId,
        archive: &Archive,
        origin: Origin,
    ) -> Result<Vec<String>, BoxError> {
        let mut notes = Vec::new();
        let named: Vec<NamedUser> = archive.rows(USERS)?;
        let mut user_ids = HashMap::new();
        for user in named {
            let here = users::Entity::find()
                .filter(users::Column::Username.eq(user.username.as_str()))
                .one(&self.db)
                .await?;
            match here {
                Some(found) => {
                    user_ids.insert(user.id, found.id);
                }
                None => notes.push(format!(
                    "user {} does not exist here: their bindings and group memberships are left out",
                    user.username
                )),
            }
        }
        let new_id = || uuid::Uuid::new_v4().to_string();
        let mut groups: Vec<groups::Model> = archive.rows(GROUPS)?;
        let group_ids: HashMap<String, String> =
            groups.iter().map(|g| (g.id.clone(), new_id())).collect();
        let mut accounts: Vec<service_accounts::Model> = archive.rows(ACCOUNTS)?;
        let account_ids: HashMap<String, String> =
            accounts.iter().map(|a| (a.id.clone(), new_id())).collect();
        let tx = TenantTxn::write(&self.db, tenant).await?;
        let key = tx.tenant_key().to_owned();
        let mut roles: Vec<roles::Model> = archive.rows(ROLES)?;
        for role in &mut roles {
            // Held to what the API lets a role be: a custom name and the
            // tenant's own permissions.
            if role.name == crate::domain::ADMIN_ROLE {
                return Err("the archive redefines the predefined Admin role".into());
            }
            crate::domain::parse_name("role", &role.name)?;
            let texts: Vec<String> = role.permissions.split(',').map(str::to_owned).collect();
            let grants = crate::domain::parse_grants(&texts)?;
            role.permissions = grants
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",");
            role.tenant = key.clone();
        }
        for group in &mut groups {
            group.tenant = key.clone();
            group.id = group_ids[&group.id].clone();
        }
        for account in &mut accounts {
            account.tenant = key.clone();
            account.id = account_ids[&account.id].clone();
            if account.super_admin && origin == Origin::Archive {
                // Instance-wide power is the instance's to give, not an
                // archive's.
                account.super_admin = false;
                notes.push(format!(
                    "service account {} was a super admin where it came from; here it is not",
                    account.name
                ));
            }
        }
        let mut members = Vec::new();
        for mut member in archive.rows::<group_members::Model>(MEMBERS)? {
            let (Some(group), Some(user)) = (
                group_ids.get(&member.group_id),
                user_ids.get(&member.user_id),
            ) else {
                continue;
            };
            member.tenant = key.clone();
            member.group_id = group.clone();
            member.user_id = user.clone();
            members.push(member);
        }
        let mut kept = Vec::new();
        for mut binding in archive.rows::<bindings::Model>(BINDINGS)? {
            let subject = match binding.subject_type.as_str() {
                "USER" => user_ids.get(&binding.subject_id),
                "GROUP" => group_ids.get(&binding.subject_id),
                "SERVICE_ACCOUNT" => account_ids.get(&binding.subject_id),
                _ => None,
            };
            let Some(subject) = subject else {
                continue;
            };
            binding.id = new_id();
            binding.tenant = key.clone();
            binding.subject_id = subject.clone();
            kept.push(binding);
        }
        let mut audit: Vec<audit_logs::Model> = archive.rows(AUDIT)?;
        if origin == Origin::Adoption {
            audit.retain(|entry| !INSTANCE_RESOURCES.contains(&entry.resource_type.as_str()));
        }
        for entry in &mut audit {
            entry.id = new_id();
            entry.tenant = key.clone();
        }
        macro_rules! insert {
            ($rows:expr) => {
                insert_rows(
                    &tx,
                    $rows
                        .into_iter()
                        .map(IntoActiveModel::into_active_model)
                        .collect(),
                )
                .await?
            };
        }
        insert!(roles);
        insert!(groups);
        insert!(accounts);
        insert!(members);
        insert!(kept);
        insert!(audit);
        crate::repo::tenant_changed(&tx).await?;
        tx.commit().await?;
        Ok(notes)
    }

    /// After an adoption (`from`'s rows imported into `to` on this same
    /// instance): each service account's API tokens move to the account's
    /// copy in `to`, found by name. An archive never carries them; here
    /// nothing leaves the instance, so the rows themselves move (a token's
    /// hash is unique) and a token keeps working in its account's new
    /// tenant. Answers what was moved.
    pub async fn carry_tokens(
        &self,
        from: &TenantId,
        to: &TenantId,
    ) -> Result<Vec<String>, BoxError> {
        let source = TenantTxn::read(&self.db, from).await?;
        let from_key = source.tenant_key().to_owned();
        let accounts =
            tenant_rows::<service_accounts::Entity>(&source, service_accounts::Column::Tenant)
                .await?;
        let tokens = tenant_rows::<api_tokens::Entity>(&source, api_tokens::Column::Tenant).await?;
        source.commit().await?;
        let target = TenantTxn::read(&self.db, to).await?;
        let key = target.tenant_key().to_owned();
        let moved: HashMap<String, String> =
            tenant_rows::<service_accounts::Entity>(&target, service_accounts::Column::Tenant)
                .await?
                .into_iter()
                .map(|a| (a.name, a.id))
                .collect();
        target.commit().await?;
        // Rows of `from` become rows of `to`: a transaction of `to` that
        // also sees `from`'s rows (row-level security lets it write only
        // rows of `to`, which is what each row becomes).
        let tx = aerie_common::db::SystemScan::begin_writing_as(
            &self.db,
            to,
            "moving an adopted tenant's API tokens",
        )
        .await?;
        let account_names: HashMap<&str, &str> = accounts
            .iter()
            .map(|a| (a.id.as_str(), a.name.as_str()))
            .collect();
        let mut notes = Vec::new();
        for token in tokens {
            let Some((name, new_id)) = account_names
                .get(token.service_account_id.as_str())
                .and_then(|name| Some((*name, moved.get(*name)?)))
            else {
                continue;
            };
            // The one statement that writes outside the transaction's own
            // tenant: it takes rows of `from`, by id, into this one.
            api_tokens::Entity::update_many()
                .col_expr(api_tokens::Column::Tenant, Expr::value(key.clone()))
                .col_expr(
                    api_tokens::Column::ServiceAccountId,
                    Expr::value(new_id.clone()),
                )
                .filter(api_tokens::Column::Id.eq(token.id.as_str()))
                .filter(api_tokens::Column::Tenant.eq(from_key.as_str()))
                .exec(tx.conn())
                .await?;
            notes.push(format!(
                "API token {} of service account {name} keeps working",
                token.name
            ));
        }
        tx.commit().await?;
        let announce = TenantTxn::write(&self.db, to).await?;
        crate::repo::tenant_changed(&announce).await?;
        announce.commit().await?;
        Ok(notes)
    }

    /// Deletes the bindings held in `tenant` (see `GrantTenantCreator`: a
    /// tenant created a moment ago holds none but leftovers).
    pub async fn drop_bindings(&self, tenant: &TenantId) -> Result<(), DbErr> {
        let tx = TenantTxn::write(&self.db, tenant).await?;
        if delete_tenant_rows::<bindings::Entity>(&tx, bindings::Column::Tenant).await? > 0 {
            tracing::warn!(%tenant, "a new tenant's id held bindings left from a failed create; removed");
            crate::repo::tenant_changed(&tx).await?;
        }
        tx.commit().await
    }

    /// Deletes every auth-svc row of `tenant` (its tokens too).
    pub async fn remove_tenant_data(&self, tenant: &TenantId) -> Result<(), DbErr> {
        self.remove_rows(tenant, Origin::Archive).await
    }

    /// Deletes the default tenant's adopted auth-svc rows: its service
    /// accounts (moved, tokens and all) and its audit entries about the
    /// tenant. Its roles, groups and user and group bindings stay, since
    /// instance-wide permissions are asked there; so do its audit entries
    /// about the instance.
    pub async fn remove_adopted_data(&self, tenant: &TenantId) -> Result<(), DbErr> {
        self.remove_rows(tenant, Origin::Adoption).await
    }

    async fn remove_rows(&self, tenant: &TenantId, origin: Origin) -> Result<(), DbErr> {
        let tx = TenantTxn::write(&self.db, tenant).await?;
        match origin {
            Origin::Archive => {
                delete_tenant_rows::<bindings::Entity>(&tx, bindings::Column::Tenant).await?;
                delete_tenant_rows::<group_members::Entity>(&tx, group_members::Column::Tenant)
                    .await?;
                delete_tenant_rows::<groups::Entity>(&tx, groups::Column::Tenant).await?;
                delete_tenant_rows::<roles::Entity>(&tx, roles::Column::Tenant).await?;
                delete_tenant_rows::<audit_logs::Entity>(&tx, audit_logs::Column::Tenant).await?;
            }
            Origin::Adoption => {
                // The default tenant's roles, groups and the bindings of
                // users and groups stay (copied to the new tenant, not
                // moved): they also decide instance-wide permissions such as
                // TENANT:CREATE, which are asked in the default tenant even
                // when it is unreachable. Service accounts moved, so their
                // bindings here go.
                bindings::Entity::delete_many()
                    .filter(bindings::Column::Tenant.eq(tx.tenant_key()))
                    .filter(bindings::Column::SubjectType.eq("SERVICE_ACCOUNT"))
                    .exec(tx.conn())
                    .await?;
                audit_logs::Entity::delete_many()
                    .filter(audit_logs::Column::Tenant.eq(tx.tenant_key()))
                    .filter(audit_logs::Column::ResourceType.is_not_in(INSTANCE_RESOURCES.to_vec()))
                    .exec(tx.conn())
                    .await?;
            }
        }
        delete_tenant_rows::<api_tokens::Entity>(&tx, api_tokens::Column::Tenant).await?;
        delete_tenant_rows::<service_accounts::Entity>(&tx, service_accounts::Column::Tenant)
            .await?;
        crate::repo::tenant_changed(&tx).await?;
        tx.commit().await
    }
}

/// `aerie.transfer.internal.v1.AuthTransferService`: auth-svc's part of a tenant
/// archive, for tenant-svc (with the internal service credential).
#[derive(Clone)]
pub struct TransferPart(pub Core);

impl TransferPart {
    fn tenant<T>(&self, request: &Request<T>) -> Result<TenantId, Status> {
        require_service_token(request, &self.0.service_token)?;
        scoped_tenant(request, &self.0.policy)
    }
}

#[tonic::async_trait]
impl pb::auth_transfer_service_server::AuthTransferService for TransferPart {
    type ExportPartStream = EntryStream;

    async fn export_part(
        &self,
        request: Request<pb::ExportPartRequest>,
    ) -> Result<Response<EntryStream>, Status> {
        let tenant = self.tenant(&request)?;
        let mut archive = Archive::new(tenant.storage_key(), "");
        self.0
            .export_tenant(&tenant, &mut archive)
            .await
            .map_err(part_status)?;
        Ok(Response::new(stream_entries(archive)))
    }

    async fn import_part(
        &self,
        request: Request<tonic::Streaming<pb::ImportPartRequest>>,
    ) -> Result<Response<pb::ImportPartResponse>, Status> {
        let tenant = self.tenant(&request)?;
        let (_, archive) = receive_part(request.into_inner()).await?;
        let notes = self
            .0
            .import_tenant(&tenant, &archive, Origin::Archive)
            .await
            .map_err(part_status)?;
        Ok(Response::new(pb::ImportPartResponse { notes }))
    }

    async fn remove_part(
        &self,
        request: Request<pb::RemovePartRequest>,
    ) -> Result<Response<pb::RemovePartResponse>, Status> {
        let tenant = self.tenant(&request)?;
        self.0
            .remove_tenant_data(&tenant)
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(pb::RemovePartResponse {}))
    }
}
