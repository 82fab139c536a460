//! The operations of auth-svc, shared by its gRPC API and the admin CLI:
//! users, keys, access evaluation and bindings. Authorization of the caller
//! happens in `api.rs`; nothing here trusts or checks a caller.

use std::sync::Arc;
use std::time::Duration;

use aerie_common::audit::AuditEntry;
use aerie_common::auth::PrincipalKind;
use aerie_common::paging::PageRequest;
use aerie_common::{ServiceError, TenantId, TenantPolicy};
use sea_orm::{DatabaseConnection, TransactionTrait};

use crate::domain::{self, ADMIN_ROLE, EffectiveBinding, Grant, SubjectType};
use crate::repo::{self, SystemScan, TenantTxn, bindings, now, users};
use crate::throttle::{LoginGuard, Refusal};
use crate::tokens;

/// The actor recorded for changes made from the configuration at start.
pub const CONFIG_ACTOR: &str = "config";

/// auth-svc's state.
pub struct AuthCore {
    pub db: DatabaseConnection,
    /// Whether a named tenant exists: a missing or deleted tenant's roles,
    /// bindings and accounts are "not found", as every other service answers.
    pub tenants: aerie_common::tenant_directory::TenantDirectory,
    pub policy: TenantPolicy,
    pub token_ttl: Duration,
    /// Bounds password guessing and hashing (see `throttle`).
    pub throttle: LoginGuard,
    /// The internal credential services present to deliver audit entries.
    pub service_token: String,
}

/// What a changed user record looks like to callers.
pub type User = users::Model;

/// Who is acting: a live user or service account.
#[derive(Debug, Clone)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub id: String,
    pub name: String,
    pub super_admin: bool,
    /// A service account's own tenant; it acts nowhere else.
    pub home: Option<TenantId>,
}

impl From<User> for Principal {
    fn from(user: User) -> Principal {
        Principal {
            kind: PrincipalKind::User,
            id: user.id,
            name: user.username,
            super_admin: user.super_admin,
            home: None,
        }
    }
}

/// Hashes a password with argon2id (CPU and ~19 MiB: run it on a hashing thread).
fn hash_now(password: &str) -> Result<String, ServiceError> {
    crate::passwords::hash(password).map_err(ServiceError::Internal)
}

/// Checks a password against a stored hash (run it on a hashing thread).
fn verify_now(password: &str, hash: &str) -> bool {
    crate::passwords::verify(password, hash)
}

/// A valid argon2id hash of a random password: unknown usernames are
/// checked against it so that they take as long as known ones.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

impl AuthCore {
    /// Makes sure a signing key exists: the configured one (made the only
    /// active key; earlier ones keep verifying their tokens until those
    /// expire), else one generated on first start.
    pub async fn ensure_signing_key(&self, configured: Option<&str>) -> Result<(), ServiceError> {
        if let Some(seed) = configured {
            let key = tokens::configured_key(seed).map_err(ServiceError::InvalidArgument)?;
            let active = repo::active_keys(&self.db).await?;
            if active.len() == 1 && active[0].kid == key.kid {
                return Ok(());
            }
            let kid = key.kid.clone();
            let txn = self.db.begin().await?;
            // Replicas starting together may both get here: the first insert wins.
            repo::insert_key_if_absent(&txn, key).await?;
            repo::activate_key(&txn, &kid).await?;
            repo::retire_keys_except(&txn, &kid).await?;
            txn.commit().await?;
            tracing::info!(%kid, "configured signing key in use");
            return Ok(());
        }
        if repo::active_keys(&self.db).await?.is_empty() {
            let key = tokens::generate_key().map_err(ServiceError::Internal)?;
            repo::insert_key(&self.db, key).await?;
        }
        Ok(())
    }

    /// Creates a new signing key and retires the others; their tokens keep
    /// verifying until they expire.
    pub async fn rotate_key(&self, actor: &str) -> Result<repo::signing_keys::Model, ServiceError> {
        let key = tokens::generate_key().map_err(ServiceError::Internal)?;
        let tx = self.instance_txn().await?;
        repo::insert_key(tx.conn(), key.clone()).await?;
        repo::retire_keys_except(tx.conn(), &key.kid).await?;
        let entry = AuditEntry::new(
            &TenantId::default_tenant(),
            "SIGNING_KEY",
            &key.kid,
            "CREATE",
            actor,
        );
        repo::record(tx.conn(), entry).await?;
        tx.commit().await?;
        tracing::info!(kid = %key.kid, "signing key rotated");
        Ok(key)
    }

    /// Keys a verifier needs: active ones and those retired less than a
    /// token lifetime (plus leeway) ago.
    pub async fn published_keys(&self) -> Result<Vec<repo::signing_keys::Model>, ServiceError> {
        let horizon = self.token_ttl + Duration::from_secs(aerie_common::auth::token::LEEWAY_SECS);
        let since =
            now() - chrono::Duration::from_std(horizon).unwrap_or(chrono::Duration::hours(1));
        Ok(repo::published_keys(&self.db, since).await?)
    }

    /// Hashes a password in one of the bounded hashing slots.
    pub async fn hash_password(&self, password: String) -> Result<String, ServiceError> {
        self.throttle
            .hash(move || hash_now(&password))
            .await
            .map_err(refused)?
    }

    /// Checks a password in one of the bounded hashing slots.
    async fn verify_password(&self, password: String, hash: String) -> Result<bool, ServiceError> {
        self.throttle
            .hash(move || verify_now(&password, &hash))
            .await
            .map_err(refused)
    }

    /// Computes the hash unknown usernames are checked against, once at
    /// start, so that the first flood of unknown names does not compute it
    /// many times over.
    pub async fn prepare_dummy_hash(&self) -> Result<(), ServiceError> {
        if DUMMY_HASH.get().is_none() {
            let hash = self.hash_password(uuid::Uuid::new_v4().to_string()).await?;
            let _ = DUMMY_HASH.set(hash);
        }
        Ok(())
    }

    /// Verifies a username and password and signs a token. Every failure
    /// answers the same; too many failures, or too many attempts at once,
    /// answer 429 before any password is checked.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        source: &str,
    ) -> Result<String, ServiceError> {
        let invalid = || ServiceError::Unauthenticated("invalid username or password".to_owned());
        // Nobody has a name that breaks the username rule: no lookup, no
        // hashing, and no limiter key of unbounded size.
        let Ok(username) = domain::parse_username(username) else {
            return Err(invalid());
        };
        let attempt = self
            .throttle
            .admit(&username, source)
            .await
            .map_err(refused)?;
        let user = repo::find_user_by_name(&self.db, &username).await?;
        let hash = match &user {
            Some(user) => user.password_hash.clone(),
            None => match DUMMY_HASH.get() {
                Some(hash) => hash.clone(),
                None => {
                    let hash = self.hash_password(uuid::Uuid::new_v4().to_string()).await?;
                    DUMMY_HASH.get_or_init(|| hash).clone()
                }
            },
        };
        let valid = self.verify_password(password.to_owned(), hash).await?;
        let Some(user) = user.filter(|_| valid) else {
            tracing::info!(%source, "failed login");
            return Err(invalid());
        };
        attempt.succeeded().await;
        drop(attempt);
        let key = repo::active_keys(&self.db)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ServiceError::Internal("no active signing key".to_owned()))?;
        tokens::issue(&key, &user.id, &user.username, self.token_ttl.as_secs())
            .map_err(ServiceError::Internal)
    }

    /// A write transaction for instance-level changes (users, keys), whose
    /// audit entries belong to the default tenant.
    pub async fn instance_txn(&self) -> Result<TenantTxn, ServiceError> {
        Ok(TenantTxn::write(&self.db, &TenantId::default_tenant()).await?)
    }

    /// Creates a user. ALREADY_EXISTS when the username is taken.
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        super_admin: bool,
        actor: &str,
    ) -> Result<User, ServiceError> {
        let username = domain::parse_username(username)?;
        domain::check_password(password)?;
        let time = now();
        let user = users::Model {
            id: uuid::Uuid::new_v4().to_string(),
            username,
            password_hash: self.hash_password(password.to_owned()).await?,
            super_admin,
            create_time: time,
            update_time: time,
        };
        let tx = self.instance_txn().await?;
        match repo::insert_user(tx.conn(), user.clone()).await {
            Ok(()) => {
                let entry = AuditEntry::new(
                    &TenantId::default_tenant(),
                    "USER",
                    &user.username,
                    "CREATE",
                    actor,
                )
                .with_details(serde_json::json!({"superAdmin": super_admin}));
                repo::record(tx.conn(), entry).await?;
                tx.commit().await?;
                tracing::info!(username = %user.username, super_admin, "user created");
                Ok(user)
            }
            Err(err) if repo::is_conflict(&err) => Err(ServiceError::AlreadyExists(format!(
                "user '{}' already exists",
                user.username
            ))),
            Err(err) => Err(err.into()),
        }
    }

    /// Creates the configured super admin, or brings its password and flag
    /// up to date.
    pub async fn ensure_super_admin(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(), ServiceError> {
        match repo::find_user_by_name(&self.db, username).await? {
            None => match self
                .create_user(username, password, true, CONFIG_ACTOR)
                .await
            {
                Ok(_) | Err(ServiceError::AlreadyExists(_)) => Ok(()),
                Err(err) => Err(err),
            },
            Some(user) => {
                let password_ok = self
                    .verify_password(password.to_owned(), user.password_hash.clone())
                    .await?;
                if password_ok && user.super_admin {
                    return Ok(());
                }
                domain::check_password(password)?;
                let hash = if password_ok {
                    None
                } else {
                    Some(self.hash_password(password.to_owned()).await?)
                };
                let tx = self.instance_txn().await?;
                repo::update_user(tx.conn(), &user.id, hash, Some(true)).await?;
                let entry = AuditEntry::new(
                    &TenantId::default_tenant(),
                    "USER",
                    username,
                    "UPDATE",
                    CONFIG_ACTOR,
                )
                .with_details(serde_json::json!({"superAdmin": true}));
                repo::record(tx.conn(), entry).await?;
                tx.commit().await?;
                tracing::info!(%username, "super admin updated from configuration");
                Ok(())
            }
        }
    }

    /// A user by id or username.
    pub async fn find_user(&self, id_or_name: &str) -> Result<User, ServiceError> {
        let by_id = repo::find_user(&self.db, id_or_name).await?;
        let user = match by_id {
            Some(user) => Some(user),
            None => repo::find_user_by_name(&self.db, id_or_name).await?,
        };
        user.ok_or_else(|| ServiceError::NotFound(format!("user '{id_or_name}' not found")))
    }

    pub async fn list_users(&self, page: PageRequest) -> Result<(Vec<User>, u64), ServiceError> {
        Ok(repo::list_users(&self.db, page).await?)
    }

    /// The grants of a role in a tenant; `None` when there is no such role.
    async fn role_grants(
        &self,
        tx: &TenantTxn,
        role: &str,
    ) -> Result<Option<Vec<Grant>>, ServiceError> {
        if role == ADMIN_ROLE {
            return Ok(Some(domain::all_grants()));
        }
        let Some(row) = repo::find_role(tx, role).await? else {
            return Ok(None);
        };
        let texts: Vec<String> = row.permissions.split(',').map(str::to_owned).collect();
        Ok(Some(domain::parse_grants(&texts)?))
    }

    /// Whether `user` may do `grant` in `tenant` (on `namespace`); with no
    /// grant, whether it may use the tenant at all. A super admin may
    /// administer every tenant but sees no tenant's data without a binding.
    pub async fn evaluate(
        &self,
        user: &Principal,
        tenant: &TenantId,
        grant: Option<Grant>,
        namespace: Option<&str>,
    ) -> Result<bool, ServiceError> {
        let Some(grant) = grant else {
            if user.super_admin {
                return Ok(true);
            }
            let tx = TenantTxn::read(&self.db, tenant).await?;
            return Ok(!self.principal_bindings(&tx, user).await?.is_empty());
        };
        if user.super_admin && grant.permission().is_instance_administration() {
            return Ok(true);
        }
        let tx = TenantTxn::read(&self.db, tenant).await?;
        let effective = self.effective_bindings(&tx, user).await?;
        Ok(domain::allows(&effective, grant, namespace))
    }

    /// Where `user` holds `grant` in `tenant`: `None` everywhere, else the
    /// namespace scopes (possibly none).
    pub async fn granted_namespaces(
        &self,
        user: &Principal,
        tenant: &TenantId,
        grant: Grant,
    ) -> Result<Option<Vec<String>>, ServiceError> {
        if user.super_admin && grant.permission().is_instance_administration() {
            return Ok(None);
        }
        let tx = TenantTxn::read(&self.db, tenant).await?;
        let effective = self.effective_bindings(&tx, user).await?;
        Ok(domain::granted_namespaces(&effective, grant))
    }

    async fn principal_bindings(
        &self,
        tx: &TenantTxn,
        user: &Principal,
    ) -> Result<Vec<bindings::Model>, ServiceError> {
        Ok(match (&user.kind, &user.home) {
            (PrincipalKind::User, _) => repo::user_bindings(tx, &user.id).await?,
            (PrincipalKind::ServiceAccount, Some(home)) if home == tx.tenant() => {
                repo::service_account_bindings(tx, &user.id).await?
            }
            (PrincipalKind::ServiceAccount, _) => Vec::new(),
        })
    }

    async fn effective_bindings(
        &self,
        tx: &TenantTxn,
        user: &Principal,
    ) -> Result<Vec<EffectiveBinding>, ServiceError> {
        let rows = self.principal_bindings(tx, user).await?;
        // Every bound role's grants in one query, not one per binding.
        let custom: Vec<&str> = rows
            .iter()
            .map(|row| row.role.as_str())
            .filter(|role| *role != ADMIN_ROLE)
            .collect();
        let mut grants_of = std::collections::HashMap::new();
        for role in repo::find_roles(tx, &custom).await? {
            let texts: Vec<String> = role.permissions.split(',').map(str::to_owned).collect();
            grants_of.insert(role.name, domain::parse_grants(&texts)?);
        }
        grants_of.insert(ADMIN_ROLE.to_owned(), domain::all_grants());
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let grants = grants_of.get(&row.role)?.clone();
                Some(EffectiveBinding {
                    grants,
                    namespace: row.namespace,
                })
            })
            .collect())
    }

    /// Binds `role` to a user in `tenant` (idempotent for identical bindings).
    pub async fn bind_user(
        &self,
        tenant: &TenantId,
        user: &User,
        role: &str,
        namespace: Option<String>,
        actor: &str,
    ) -> Result<bindings::Model, ServiceError> {
        self.bind(tenant, SubjectType::User, &user.id, role, namespace, actor)
            .await
    }

    /// Binds `role` to a subject (user or group id) in `tenant`; an
    /// identical binding is returned instead of a second one.
    pub async fn bind(
        &self,
        tenant: &TenantId,
        subject_type: SubjectType,
        subject_id: &str,
        role: &str,
        namespace: Option<String>,
        actor: &str,
    ) -> Result<bindings::Model, ServiceError> {
        let tx = TenantTxn::write(&self.db, tenant).await?;
        if self.role_grants(&tx, role).await?.is_none() {
            return Err(ServiceError::InvalidArgument(format!(
                "role '{role}' does not exist in {tenant}"
            )));
        }
        if let Some(same) = repo::find_binding(
            &tx,
            subject_type.as_str(),
            subject_id,
            role,
            namespace.as_deref(),
        )
        .await?
        {
            return Ok(same);
        }
        let binding = bindings::Model {
            id: uuid::Uuid::new_v4().to_string(),
            tenant: tenant.storage_key().to_owned(),
            subject_type: subject_type.as_str().to_owned(),
            subject_id: subject_id.to_owned(),
            role: role.to_owned(),
            namespace,
            create_time: now(),
        };
        repo::insert_binding(&tx, binding.clone()).await?;
        let entry = AuditEntry::new(tenant, "BINDING", &binding.id, "CREATE", actor).with_details(
            serde_json::json!({
                "type": subject_type.as_str(),
                "subjectId": subject_id,
                "role": role,
                "namespace": binding.namespace,
            }),
        );
        repo::record(tx.conn(), entry).await?;
        tx.commit().await?;
        tracing::info!(%tenant, subject = %subject_id, %role, "binding created");
        Ok(binding)
    }

    /// Gives `username` the Admin role of `tenant` (tenant creation).
    pub async fn grant_admin(
        &self,
        tenant: &TenantId,
        username: &str,
        actor: &str,
    ) -> Result<(), ServiceError> {
        let user = repo::find_user_by_name(&self.db, username)
            .await?
            .ok_or_else(|| {
                ServiceError::InvalidArgument(format!("user '{username}' does not exist"))
            })?;
        self.bind_user(tenant, &user, ADMIN_ROLE, None, actor)
            .await?;
        Ok(())
    }

    /// The tenants a principal holds bindings in (a service account: its own).
    pub async fn tenants_of(&self, principal: &Principal) -> Result<Vec<TenantId>, ServiceError> {
        match principal.kind {
            PrincipalKind::User => {
                let scan = SystemScan::begin(&self.db, "the tenants of a user").await?;
                Ok(repo::tenants_of_user(&scan, &principal.id).await?)
            }
            PrincipalKind::ServiceAccount => Ok(principal.home.iter().cloned().collect()),
        }
    }
}

/// A login refused before any password was checked: 429 with Retry-After.
fn refused(refusal: Refusal) -> ServiceError {
    match refusal {
        Refusal::TooManyFailures(retry) => ServiceError::TooManyRequests(
            "too many failed logins for this account or from this address; retry later".to_owned(),
            retry.seconds(),
        ),
        Refusal::Busy(retry) => ServiceError::TooManyRequests(
            "too many logins at once; retry shortly".to_owned(),
            retry.seconds(),
        ),
    }
}

/// auth-svc state shared by its gRPC services.
pub type Core = Arc<AuthCore>;
