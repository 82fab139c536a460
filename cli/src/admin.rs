//! Admin commands that work with only the config file: each opens the
//! owning service's database through that service's own code. Holding the
//! configuration (and so the databases) is the credential here.

use std::path::Path;

use aerie_auth_svc::transfer::Origin;
use aerie_common::TenantId;
use aerie_common::config::Config;
use aerie_common::crypto::SecretBox;
use aerie_common::paging::PageRequest;
use aerie_common::transfer::Archive;

use crate::server::BoxError;

/// The actor the audit log records for admin commands.
const CLI_ACTOR: &str = "cli";

/// `aerie tenants create`, optionally binding `admin_username` to Admin.
pub async fn create_tenant(
    config: &Config,
    id: &str,
    name: &str,
    admin_username: Option<&str>,
) -> Result<aerie_tenant_svc::domain::Tenant, BoxError> {
    let tenants = aerie_tenant_svc::open(config).await?;
    let auth = match admin_username {
        Some(_) => Some(aerie_auth_svc::open(config).await?),
        None => None,
    };
    let tenant = tenants.create(id, name, CLI_ACTOR).await?;
    if let (Some(auth), Some(username)) = (auth, admin_username) {
        let tenant_id = TenantId::parse(&tenant.id)?;
        if let Err(err) = auth.grant_admin(&tenant_id, username, CLI_ACTOR).await {
            tenants.remove_unfinished(&tenant.id, CLI_ACTOR).await?;
            return Err(err.into());
        }
    }
    Ok(tenant)
}

/// `aerie tenants list`: every live tenant.
pub async fn list_tenants(
    config: &Config,
) -> Result<Vec<aerie_tenant_svc::domain::Tenant>, BoxError> {
    Ok(aerie_tenant_svc::open(config).await?.list_all().await?)
}

/// `aerie tenants delete`.
pub async fn delete_tenant(config: &Config, id: &str) -> Result<(), BoxError> {
    Ok(aerie_tenant_svc::open(config)
        .await?
        .delete(id, CLI_ACTOR)
        .await?)
}

/// `aerie tenants restore`: a tenant deleted with `delete` comes back with
/// the data and bindings its deletion kept.
pub async fn restore_tenant(config: &Config, id: &str) -> Result<(), BoxError> {
    aerie_tenant_svc::open(config)
        .await?
        .restore(id, CLI_ACTOR)
        .await?;
    Ok(())
}

/// `aerie tenants quotas`: applies `set` (NAME=VALUE) and `unset` (NAME)
/// to the tenant's own quotas when either is given; answers every quota
/// in force, and whether it is the tenant's own.
pub async fn tenant_quotas(
    config: &Config,
    id: &str,
    set: &[String],
    unset: &[String],
) -> Result<Vec<(String, String, bool)>, BoxError> {
    use aerie_common::quota::QuotaOverrides;
    let tenants = aerie_tenant_svc::open(config).await?;
    let mut overrides = tenants.quotas(id).await?;
    if !set.is_empty() || !unset.is_empty() {
        let serde_json::Value::Object(mut fields) = serde_json::to_value(&overrides)? else {
            return Err("quota overrides are not an object".into());
        };
        for pair in set {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("--set {pair}: expected NAME=VALUE"))?;
            // Retention periods are durations (P30D); every other quota a count.
            let value = match value.trim().parse::<u64>() {
                Ok(count) => serde_json::Value::from(count),
                Err(_) if name.trim().ends_with("retention") => value.trim().into(),
                Err(_) => return Err(format!("--set {pair}: {value} is not a whole number").into()),
            };
            fields.insert(name.trim().to_owned(), value);
        }
        for name in unset {
            fields.insert(name.trim().to_owned(), serde_json::Value::Null);
        }
        overrides = serde_json::from_value::<QuotaOverrides>(fields.into())
            .map_err(|err| format!("{err} (names as under aerie.tenants.quotas)"))?;
        let tenant = TenantId::parse(id)?;
        tenants.set_quotas(&tenant, &overrides, CLI_ACTOR).await?;
    }
    let in_force = serde_json::to_value(overrides.apply(&config.tenants.quotas))?;
    let own = serde_json::to_value(&overrides)?;
    let mut rows = Vec::new();
    if let serde_json::Value::Object(in_force) = in_force {
        for (name, value) in in_force {
            let is_own = own.get(&name).is_some_and(|v| !v.is_null());
            let shown = match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            };
            rows.push((name, shown, is_own));
        }
    }
    Ok(rows)
}

/// `aerie executions purge`: answers how many executions were deleted.
pub async fn purge_executions(
    config: &Config,
    tenant: Option<&str>,
    before: &str,
) -> Result<u64, BoxError> {
    let tenant = match tenant {
        Some(id) => TenantId::parse(id)?,
        None => TenantId::default_tenant(),
    };
    let before = parse_date(before)?;
    let executions = aerie_execution_svc::open(config).await?;
    Ok(executions.purge(&tenant, before).await?)
}

/// An RFC 3339 date-time, or a date (midnight UTC).
fn parse_date(text: &str) -> Result<chrono::DateTime<chrono::Utc>, BoxError> {
    let text = text.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.to_utc());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
        .ok_or_else(|| {
            format!("--before {text}: expected 2026-01-01T00:00:00Z or 2026-01-01").into()
        })
}

/// `aerie auths users create`.
pub async fn create_user(
    config: &Config,
    username: &str,
    password: &str,
    super_admin: bool,
) -> Result<aerie_auth_svc::core::User, BoxError> {
    let auth = aerie_auth_svc::open(config).await?;
    Ok(auth
        .create_user(username, password, super_admin, CLI_ACTOR)
        .await?)
}

/// `aerie auths users list`: every user.
pub async fn list_users(config: &Config) -> Result<Vec<aerie_auth_svc::core::User>, BoxError> {
    let auth = aerie_auth_svc::open(config).await?;
    let mut all = Vec::new();
    for page in 1.. {
        let (users, _) = auth.list_users(PageRequest::new(page, 1000)?).await?;
        let done = users.len() < 1000;
        all.extend(users);
        if done {
            break;
        }
    }
    Ok(all)
}

/// `aerie auths keys rotate`: returns the new key id.
pub async fn rotate_key(config: &Config) -> Result<String, BoxError> {
    let auth = aerie_auth_svc::open(config).await?;
    Ok(auth.rotate_key(CLI_ACTOR).await?.kid)
}

/// `aerie auths users sync-access --tenant T`: the default tenant's
/// bindings given to T's users, groups and service accounts.
pub async fn sync_access(
    config: &Config,
    tenant: &str,
) -> Result<Vec<aerie_auth_svc::sync_access::Synced>, BoxError> {
    let id = TenantId::parse(tenant)?;
    let live = aerie_tenant_svc::open(config).await?.list_all().await?;
    if !live.iter().any(|t| t.id == tenant) {
        return Err(format!("tenant {tenant} does not exist").into());
    }
    let auth = aerie_auth_svc::open(config).await?;
    Ok(auth.sync_access(&id, CLI_ACTOR).await?)
}

/// `aerie auths users sync-access`: each user's roles in each live tenant.
pub async fn access_report(
    config: &Config,
) -> Result<Vec<aerie_auth_svc::sync_access::UserAccess>, BoxError> {
    let live: std::collections::HashSet<String> = aerie_tenant_svc::open(config)
        .await?
        .list_all()
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    let auth = aerie_auth_svc::open(config).await?;
    let mut report = auth.access_report().await?;
    for user in &mut report {
        // A deleted tenant's bindings give no access.
        user.tenants
            .retain(|(tenant, _)| tenant.as_ref().is_none_or(|t| live.contains(t)));
    }
    Ok(report)
}

/// Where an archive keeps the tenant's own record.
const TENANT_ENTRY: &str = "tenant/tenant.json";

/// A transfer key, read from the operator's file: base64 of 32 bytes.
fn transfer_key(path: Option<&Path>) -> Result<Option<SecretBox>, BoxError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--secrets-key-file {}: {e}", path.display()))?;
    SecretBox::new(&text).map(Some).map_err(|_| {
        format!(
            "--secrets-key-file {}: must hold base64 of 32 bytes (e.g. head -c 32 /dev/urandom | base64)",
            path.display()
        )
        .into()
    })
}

/// The four services, opened from the configuration.
struct Services {
    tenants: aerie_tenant_svc::api::TenantApi,
    auth: aerie_auth_svc::core::Core,
    flows: aerie_flow_svc::FlowApi,
    executions: aerie_execution_svc::api::ExecutionApi,
}

impl Services {
    async fn open(config: &Config) -> Result<Services, BoxError> {
        Ok(Services {
            tenants: aerie_tenant_svc::open(config).await?,
            auth: aerie_auth_svc::open(config).await?,
            flows: aerie_flow_svc::open(config).await?,
            executions: aerie_execution_svc::open(config).await?,
        })
    }

    /// Everything `tenant` owns, in an archive; secrets sealed under
    /// `key`.
    async fn export(
        &self,
        tenant: &TenantId,
        key: Option<&SecretBox>,
    ) -> Result<Archive, BoxError> {
        let (name, quotas) = match tenant.as_named() {
            Some(id) => {
                let found = self.tenants.list_all().await?;
                let tenant = found
                    .into_iter()
                    .find(|t| t.id == id)
                    .ok_or_else(|| format!("tenant {id} does not exist"))?;
                (tenant.name, tenant.quotas)
            }
            None => ("default".to_owned(), Default::default()),
        };
        let mut archive = Archive::new(tenant.storage_key(), &name);
        archive.put(
            TENANT_ENTRY,
            serde_json::to_vec(&serde_json::json!({"name": name, "quotas": quotas}))?,
        );
        self.auth.export_tenant(tenant, &mut archive).await?;
        self.flows.export_tenant(tenant, &mut archive, key).await?;
        self.executions
            .export_tenant(tenant, &mut archive, key)
            .await?;
        if tenant.as_named().is_some() {
            self.tenants
                .record_export(tenant, archive.manifest.entries.len(), CLI_ACTOR)
                .await?;
        }
        Ok(archive)
    }

    /// Creates `id` from `archive`. The tenant stays deleted (unreachable,
    /// its id taken) until every part is in; if any part fails, what was
    /// written is removed and the id is never reused. Answers what was left
    /// out.
    async fn import(
        &self,
        id: &str,
        name: Option<&str>,
        archive: &Archive,
        (key, origin): (Option<&SecretBox>, Origin),
    ) -> Result<Vec<String>, BoxError> {
        let record: serde_json::Value = serde_json::from_slice(
            archive
                .get(TENANT_ENTRY)
                .ok_or("the archive has no tenant record")?,
        )?;
        let quotas: aerie_common::quota::QuotaOverrides =
            serde_json::from_value(record["quotas"].clone()).unwrap_or_default();
        let source = TenantId::from_storage_key(&archive.manifest.tenant).map_err(|_| {
            format!(
                "the archive's tenant '{}' is not a tenant id",
                archive.manifest.tenant
            )
        })?;
        let name = name.unwrap_or(&archive.manifest.name);
        let tenant = self.tenants.reserve_for_import(id, name, CLI_ACTOR).await?;
        let parts = async {
            self.flows
                .import_tenant(&tenant, &source, archive, key)
                .await?;
            let notes = self.auth.import_tenant(&tenant, archive, origin).await?;
            self.executions
                .import_tenant(&tenant, &source, archive, key)
                .await?;
            Ok::<_, BoxError>(notes)
        }
        .await;
        match parts {
            Ok(notes) => {
                self.tenants
                    .reveal_imported(&tenant, &quotas, &archive.manifest.tenant, CLI_ACTOR)
                    .await?;
                Ok(notes)
            }
            Err(err) => {
                // Nothing half-written stays reachable, and the id is never
                // handed out again.
                let _ = self.executions.remove_tenant_data(&tenant).await;
                let _ = self.auth.remove_tenant_data(&tenant).await;
                let _ = self.flows.remove_tenant_data(&tenant).await;
                let _ = self
                    .tenants
                    .abandon_import(&tenant, &err.to_string(), CLI_ACTOR)
                    .await;
                Err(err)
            }
        }
    }
}

/// `aerie tenants export`: answers the archive's manifest.
pub async fn export_tenant(
    config: &Config,
    tenant: &str,
    output: &Path,
    secrets_key_file: Option<&Path>,
) -> Result<aerie_common::transfer::Manifest, BoxError> {
    let key = transfer_key(secrets_key_file)?;
    let tenant = TenantId::parse(tenant)?;
    let archive = Services::open(config)
        .await?
        .export(&tenant, key.as_ref())
        .await?;
    archive.write_to(output)?;
    Ok(archive.manifest)
}

/// `aerie tenants import`: answers what was left out.
pub async fn import_tenant(
    config: &Config,
    tenant: &str,
    input: &Path,
    name: Option<&str>,
    secrets_key_file: Option<&Path>,
) -> Result<Vec<String>, BoxError> {
    let key = transfer_key(secrets_key_file)?;
    let archive = Archive::read_from(input)?;
    Services::open(config)
        .await?
        .import(tenant, name, &archive, (key.as_ref(), Origin::Archive))
        .await
}

/// `aerie tenants adopt-default`: the default tenant's data moved into the
/// new tenant `tenant` (copied, then removed from the default tenant).
/// Unlike an import from an archive, nothing leaves the instance, so its
/// service accounts keep their API tokens and super-admin flags; audit
/// entries about users (instance-wide) stay in the default tenant's log.
/// Answers what was left out and what was carried.
pub async fn adopt_default(
    config: &Config,
    tenant: &str,
    name: Option<&str>,
) -> Result<Vec<String>, BoxError> {
    let services = Services::open(config).await?;
    // Secrets travel in memory under the instance's own key.
    let key = SecretBox::new(&config.secrets_master_key()?)?;
    let default = TenantId::default_tenant();
    let archive = services.export(&default, Some(&key)).await?;
    let name = name.unwrap_or(tenant);
    let mut notes = services
        .import(tenant, Some(name), &archive, (Some(&key), Origin::Adoption))
        .await?;
    let adopted = TenantId::parse(tenant)?;
    notes.extend(services.auth.carry_tokens(&default, &adopted).await?);
    services.executions.remove_tenant_data(&default).await?;
    services.flows.remove_tenant_data(&default).await?;
    services.auth.remove_adopted_data(&default).await?;
    Ok(notes)
}
