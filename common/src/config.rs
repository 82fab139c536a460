//! One typed configuration for every process: defaults, then the YAML file
//! given with `-c`, then environment variables. Unknown keys are an error.
//!
//! Every key has one environment variable: `AERIE_` followed by the key path
//! upper-cased with `.` and `-` turned into `_`, for example
//! `aerie.server.http-port` ↔ `AERIE_SERVER_HTTP_PORT`. Any other `AERIE_*`
//! variable is an error (a misspelt variable would otherwise be ignored
//! without a word), except the few read elsewhere ([`OTHER_VARIABLES`],
//! [`TOOL_PREFIXES`]) and the service links Kubernetes injects.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized};
use serde::{Deserialize, Serialize};

use crate::tenant::TenantPolicy;

/// Every configuration key below `aerie.`, as written in YAML.
pub const KEYS: &[&str] = &[
    "tenants.enabled",
    "tenants.default-tenant",
    "tenants.quotas.running-executions",
    "tenants.quotas.queued-executions",
    "tenants.quotas.executions-per-minute",
    "tenants.quotas.foreach-items",
    "tenants.quotas.task-runs-per-execution",
    "tenants.quotas.parallel-branches",
    "tenants.quotas.log-lines-per-execution",
    "tenants.quotas.log-bytes-per-execution",
    "tenants.quotas.output-bytes-per-task-run",
    "tenants.quotas.execution-retention",
    "tenants.quotas.audit-retention",
    "server.host",
    "server.http-port",
    "server.grpc-port",
    "server.max-request-size",
    "server.metrics-port",
    "server.metrics-tenant-labels",
    "server.shutdown-timeout",
    "security.super-admin.username",
    "security.super-admin.password",
    "security.token-ttl",
    "security.service-token",
    "security.secrets-master-key",
    "security.jwt-signing-key",
    "security.trusted-proxies",
    "data-dir",
    "database.tenant.url",
    "database.tenant.migration-url",
    "database.auth.url",
    "database.auth.migration-url",
    "database.flow.url",
    "database.flow.migration-url",
    "endpoints.tenant",
    "endpoints.auth",
    "endpoints.flow",
    "database.execution.url",
    "database.execution.migration-url",
    "endpoints.execution",
    "storage.type",
    "storage.local.base-path",
    "storage.s3.bucket",
    "storage.s3.region",
    "storage.s3.endpoint",
    "storage.s3.access-key-id",
    "storage.s3.secret-access-key",
    "storage.s3.allow-http",
    "executor.workers",
    "executor.lease-seconds",
    "executor.poll-interval-ms",
    "executor.scheduler",
    "executor.trigger-refresh-seconds",
    "executor.retention-interval-seconds",
    "telemetry.otlp-endpoint",
    "ui.secure-cookies",
];

/// `AERIE_*` variables that are not configuration keys but are read by
/// something else: the CLI (`AERIE_CONFIG`, `AERIE_USER_PASSWORD`), the
/// Helm chart, which builds database URLs from them, the CI scripts
/// (`AERIE_BIN`), and the Terraform provider's credentials, which a shell
/// that starts a local server often holds too.
pub const OTHER_VARIABLES: &[&str] = &[
    "AERIE_CONFIG",
    "AERIE_USER_PASSWORD",
    "AERIE_DATABASE_PASSWORD",
    "AERIE_DATABASE_MIGRATION_PASSWORD",
    "AERIE_BIN",
    "AERIE_ENDPOINT",
    "AERIE_TOKEN",
    "AERIE_USERNAME",
    "AERIE_PASSWORD",
];

/// Prefixes of the variables of Aerie's own tools, which start servers
/// from an environment that holds them: the test suite, the benchmarks and
/// the schemathesis run.
pub const TOOL_PREFIXES: &[&str] = &["AERIE_TEST_", "AERIE_BENCH_", "AERIE_ST_"];

/// The whole file: everything lives under `aerie:`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    aerie: Config,
}

/// Aerie's configuration (`aerie.*`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Config {
    pub tenants: TenantsConfig,
    pub security: SecurityConfig,
    pub server: ServerConfig,
    /// Where the embedded default keeps SQLite files and local storage.
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub endpoints: EndpointsConfig,
    pub storage: StorageConfig,
    pub executor: ExecutorConfig,
    pub telemetry: TelemetryConfig,
    pub ui: UiConfig,
}

/// `aerie.ui.*`: the web UI the gateway serves under `/ui/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct UiConfig {
    /// Whether the session cookie carries `Secure`. Unset: yes, unless
    /// `server.host` is a loopback address (a local install served over
    /// plain HTTP); behind TLS termination set it to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure_cookies: Option<bool>,
}

impl Config {
    /// Whether the UI's session cookie is `Secure`.
    pub fn ui_secure_cookies(&self) -> bool {
        self.ui
            .secure_cookies
            .unwrap_or(!self.server.host.is_loopback())
    }
}

/// `aerie.telemetry.*`: where traces go.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// OTLP/gRPC collector (`http://otel-collector:4317`); unset exports nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
}

/// `aerie.storage.*`: where execution files live (internal storage).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `local` (a directory, the default) or `s3`.
    #[serde(rename = "type")]
    pub kind: StorageKind,
    pub local: LocalStorageConfig,
    pub s3: S3StorageConfig,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    #[default]
    Local,
    S3,
}

/// `aerie.storage.local.*`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct LocalStorageConfig {
    /// Unset: `<data-dir>/storage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_path: Option<PathBuf>,
}

/// `aerie.storage.s3.*`: an S3-compatible object store.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct S3StorageConfig {
    pub bucket: String,
    pub region: String,
    /// Unset: AWS; set for MinIO and other S3-compatible stores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
    /// Allows a plain `http://` endpoint (a store on a private network).
    pub allow_http: bool,
}

/// The secret key never reaches a log line through `{:?}`.
impl std::fmt::Debug for S3StorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3StorageConfig")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

/// `aerie.executor.*`: how this process runs executions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ExecutorConfig {
    /// Executions this process runs at once; 0 makes an API-only replica
    /// that accepts executions and leaves running them to others.
    pub workers: usize,
    /// How long a claimed execution stays this process's without a renewal;
    /// after a crash, another replica resumes it once this has passed.
    pub lease_seconds: u64,
    /// How often idle workers look for queued work another process created.
    pub poll_interval_ms: u64,
    /// Whether this process fires Schedule triggers (every replica may; each
    /// tick fires once).
    pub scheduler: bool,
    /// How often the scheduler reads the Schedule triggers of every tenant
    /// again: a new or changed schedule takes effect within this time.
    pub trigger_refresh_seconds: u64,
    /// How often ended executions past their tenant's retention are
    /// deleted (in processes with workers).
    pub retention_interval_seconds: u64,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            workers: 256,
            lease_seconds: 30,
            poll_interval_ms: 200,
            scheduler: true,
            trigger_refresh_seconds: 10,
            retention_interval_seconds: 3600,
        }
    }
}

/// `aerie.tenants.*`: the three modes of multi-tenancy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct TenantsConfig {
    pub enabled: bool,
    pub default_tenant: bool,
    pub quotas: QuotasConfig,
}

/// `aerie.tenants.quotas.*`: what one tenant may take of the instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct QuotasConfig {
    /// Executions of one tenant running at once, over every execution
    /// replica; more wait queued (CREATED) while other tenants' run.
    pub running_executions: u32,
    /// Executions of one tenant waiting for a worker; creating more is 429.
    pub queued_executions: u32,
    /// Executions one tenant may create per minute through the API and
    /// webhooks, per execution-svc process; past it 429 with Retry-After.
    pub executions_per_minute: u32,
    /// Items one ForEach may loop over; more fails the task, naming this.
    pub foreach_items: u32,
    /// Task runs one execution may create in all (nested ForEach loops
    /// multiply); past it the execution fails, naming this.
    pub task_runs_per_execution: u32,
    /// Branches one Parallel may have, and iterations one ForEach runs at
    /// once; more branches fail the task, naming this.
    pub parallel_branches: u32,
    /// Log lines the Log tasks of one execution may write.
    pub log_lines_per_execution: u32,
    /// Bytes of log messages the Log tasks of one execution may write.
    pub log_bytes_per_execution: u64,
    /// Bytes of outputs (as JSON) one task run may keep.
    pub output_bytes_per_task_run: u64,
    /// How long an ended execution is kept with its task runs, logs and
    /// files: an ISO-8601 duration (`P30D`).
    pub execution_retention: String,
    /// How long audit log entries are kept: an ISO-8601 duration.
    pub audit_retention: String,
}

impl QuotasConfig {
    /// Both retention periods, or which key holds what is not a positive
    /// ISO-8601 duration.
    pub fn retention(&self) -> Result<(std::time::Duration, std::time::Duration), String> {
        let parse = |key: &str, text: &str| {
            crate::quota::parse_retention(text)
                .ok_or_else(|| format!("aerie.tenants.quotas.{key}: '{text}' is not a positive ISO-8601 duration such as P30D"))
        };
        Ok((
            parse("execution-retention", &self.execution_retention)?,
            parse("audit-retention", &self.audit_retention)?,
        ))
    }
}

impl Default for QuotasConfig {
    fn default() -> Self {
        QuotasConfig {
            running_executions: 64,
            queued_executions: 10_000,
            executions_per_minute: 6_000,
            foreach_items: 10_000,
            task_runs_per_execution: 25_000,
            parallel_branches: 100,
            log_lines_per_execution: 100_000,
            log_bytes_per_execution: 64 * 1024 * 1024,
            output_bytes_per_task_run: 1024 * 1024,
            execution_retention: "P30D".to_owned(),
            audit_retention: "P365D".to_owned(),
        }
    }
}

/// `aerie.security.*`: the bootstrap super admin and token lifetime.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct SecurityConfig {
    pub super_admin: SuperAdminConfig,
    /// Lifetime of issued access tokens, in seconds.
    pub token_ttl: u64,
    /// Credential services use among themselves (audit delivery); unset in
    /// standalone means one generated under `data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_token: Option<String>,
    /// AES-256 key (base64 of 32 bytes) encrypting tenants' secrets; unset
    /// in standalone means one generated under `data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets_master_key: Option<String>,
    /// Ed25519 seed (base64 of 32 bytes) access tokens are signed with;
    /// unset means a key generated and kept in auth-svc's database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_signing_key: Option<String>,
    /// Proxies (addresses or networks, `10.0.0.0/8`) whose
    /// `X-Forwarded-For` names the client, for login throttling; a list or
    /// one comma-separated string. Empty: the peer is the client.
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub trusted_proxies: Vec<String>,
}

/// A YAML list, or one comma-separated string (as environment variables give).
fn list_or_comma_separated<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Either::deserialize(deserializer)? {
        Either::List(list) => list,
        Either::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// `aerie.security.super-admin.*`: created or updated at start when both are set.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct SuperAdminConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// Secrets never reach a log line through `{:?}`.
impl std::fmt::Debug for SecurityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityConfig")
            .field("super_admin", &self.super_admin)
            .field("token_ttl", &self.token_ttl)
            .field(
                "service_token",
                &self.service_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "secrets_master_key",
                &self.secrets_master_key.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "jwt_signing_key",
                &self.jwt_signing_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The password never reaches a log line through `{:?}`.
impl std::fmt::Debug for SuperAdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuperAdminConfig")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            super_admin: SuperAdminConfig::default(),
            token_ttl: 900,
            service_token: None,
            secrets_master_key: None,
            jwt_signing_key: None,
            trusted_proxies: Vec::new(),
        }
    }
}

/// `aerie.server.*`: where this process listens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address both listeners bind to; loopback until authentication exists.
    pub host: IpAddr,
    pub http_port: u16,
    pub grpc_port: u16,
    /// Largest REST request body in bytes; larger ones answer 413.
    pub max_request_size: usize,
    /// Port of `GET /metrics` (Prometheus); unset serves no metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_port: Option<u16>,
    /// Per-tenant usage gauges (`aerie_tenant_executions{tenant,state}`):
    /// one series per tenant, so off unless the tenant count is bounded.
    pub metrics_tenant_labels: bool,
    /// Seconds a process gives open requests and streams to end after
    /// SIGTERM before it stops anyway.
    pub shutdown_timeout: u64,
}

/// `aerie.database.*`: one database per service.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub tenant: DatabaseUrl,
    pub auth: DatabaseUrl,
    pub flow: DatabaseUrl,
    pub execution: DatabaseUrl,
}

/// One service's database; unset means SQLite under `data-dir`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct DatabaseUrl {
    /// What the service runs with: on PostgreSQL, a role that holds only
    /// SELECT, INSERT, UPDATE and DELETE on its tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// What migrations run with: the role owning the schema, which grants
    /// the `url` role what it needs after each migration. Unset: `url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration_url: Option<String>,
}

/// `aerie.endpoints.*`: where other processes find each service's gRPC API;
/// unset means this machine's `grpc-port` (the standalone layout).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct EndpointsConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
}

impl Default for TenantsConfig {
    fn default() -> Self {
        TenantsConfig {
            enabled: false,
            default_tenant: true,
            quotas: QuotasConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            http_port: 8080,
            grpc_port: 50051,
            max_request_size: 10 * 1024 * 1024,
            metrics_port: None,
            metrics_tenant_labels: false,
            shutdown_timeout: 30,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tenants: TenantsConfig::default(),
            security: SecurityConfig::default(),
            server: ServerConfig::default(),
            data_dir: PathBuf::from("./data"),
            database: DatabaseConfig::default(),
            endpoints: EndpointsConfig::default(),
            storage: StorageConfig::default(),
            executor: ExecutorConfig::default(),
            telemetry: TelemetryConfig::default(),
            ui: UiConfig::default(),
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    Missing(PathBuf),
    /// One line per mistake, naming the key as written in YAML (and the
    /// file) or the environment variable it came from.
    #[error("invalid configuration: {}", .0.join("\n  "))]
    Invalid(Vec<String>),
}

impl Config {
    /// Loads defaults, then the YAML file (if given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(File::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::Missing(path.to_owned()));
            }
            figment = figment.merge(serde_saphyr::figment::Yaml::file_exact(path));
        }
        let unknown = unknown_variables(std::env::vars_os());
        if !unknown.is_empty() {
            return Err(ConfigError::Invalid(unknown));
        }
        let env = Env::raw().filter_map(|name| {
            KEYS.iter()
                .find(|key| name.as_str().eq_ignore_ascii_case(&env_var_for(key)))
                .map(|key| format!("aerie.{key}").into())
        });
        let file: File = figment.merge(env).extract().map_err(|errors| {
            ConfigError::Invalid(errors.into_iter().map(|e| describe(&e, file)).collect())
        })?;
        Ok(file.aerie)
    }

    /// Which tenants exist under this configuration.
    pub fn tenant_policy(&self) -> TenantPolicy {
        TenantPolicy {
            multi_tenancy: self.tenants.enabled,
            default_tenant: self.tenants.default_tenant,
        }
    }

    /// The gRPC listen address.
    pub fn grpc_addr(&self) -> SocketAddr {
        SocketAddr::new(self.server.host, self.server.grpc_port)
    }

    /// The REST listen address.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.server
            .metrics_port
            .map(|port| SocketAddr::new(self.server.host, port))
    }

    pub fn http_addr(&self) -> SocketAddr {
        SocketAddr::new(self.server.host, self.server.http_port)
    }

    /// The tenant service's database: the configured URL, or a SQLite file
    /// under `data-dir`.
    pub fn tenant_database_url(&self) -> String {
        self.database
            .tenant
            .url
            .clone()
            .unwrap_or_else(|| self.sqlite_url("tenant"))
    }

    /// auth-svc's database: the configured URL, or a SQLite file under `data-dir`.
    pub fn auth_database_url(&self) -> String {
        self.database
            .auth
            .url
            .clone()
            .unwrap_or_else(|| self.sqlite_url("auth"))
    }

    /// flow-svc's database: the configured URL, or a SQLite file under `data-dir`.
    pub fn flow_database_url(&self) -> String {
        self.database
            .flow
            .url
            .clone()
            .unwrap_or_else(|| self.sqlite_url("flow"))
    }

    /// The URL `service`'s migrations run with (`database.<service>.migration-url`),
    /// else its runtime URL.
    pub fn migration_url(&self, service: &str) -> String {
        let (database, runtime) = match service {
            "tenant" => (&self.database.tenant, self.tenant_database_url()),
            "auth" => (&self.database.auth, self.auth_database_url()),
            "flow" => (&self.database.flow, self.flow_database_url()),
            _ => (&self.database.execution, self.execution_database_url()),
        };
        database.migration_url.clone().unwrap_or(runtime)
    }

    /// Where the tenant service's gRPC API is reached.
    pub fn tenant_endpoint(&self) -> String {
        self.endpoint(&self.endpoints.tenant)
    }

    /// Where auth-svc's gRPC API is reached.
    pub fn auth_endpoint(&self) -> String {
        self.endpoint(&self.endpoints.auth)
    }

    /// execution-svc's database: the configured URL, or a SQLite file under `data-dir`.
    pub fn execution_database_url(&self) -> String {
        self.database
            .execution
            .url
            .clone()
            .unwrap_or_else(|| self.sqlite_url("execution"))
    }

    /// Where execution-svc's gRPC API is reached.
    pub fn execution_endpoint(&self) -> String {
        self.endpoint(&self.endpoints.execution)
    }

    /// The directory of local internal storage.
    pub fn local_storage_path(&self) -> PathBuf {
        self.storage
            .local
            .base_path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("storage"))
    }

    /// Where flow-svc's gRPC API is reached.
    pub fn flow_endpoint(&self) -> String {
        self.endpoint(&self.endpoints.flow)
    }

    /// The secrets master key, base64 as configured or as generated once
    /// under `data-dir` (the embedded default). flow-svc seals namespace
    /// secrets with it, execution-svc SECRET inputs.
    pub fn secrets_master_key(&self) -> std::io::Result<String> {
        if let Some(key) = &self.security.secrets_master_key {
            return Ok(key.clone());
        }
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| {
            tracing::warn!(
                file = %std::path::absolute(&self.data_dir).unwrap_or_else(|_| self.data_dir.clone()).join("secrets-master-key").display(),
                "secrets are encrypted with a master key generated under data-dir: back that file up (or set aerie.security.secrets-master-key); without it no stored secret or SECRET input can be read"
            );
        });
        crate::local_secret::created_once(&self.data_dir, "secrets-master-key", 44, || {
            use base64::Engine;
            let key: [u8; 32] = rand::random();
            base64::engine::general_purpose::STANDARD.encode(key)
        })
    }

    /// The internal service credential (see [`crate::audit::service_token`]).
    pub fn service_token(&self) -> std::io::Result<String> {
        crate::audit::service_token(self.security.service_token.as_deref(), &self.data_dir)
    }

    /// Points every unset endpoint at this machine's gRPC port (standalone).
    pub fn default_endpoints_to(&mut self, grpc_port: u16) -> String {
        let local = format!("http://127.0.0.1:{grpc_port}");
        for endpoint in [
            &mut self.endpoints.tenant,
            &mut self.endpoints.auth,
            &mut self.endpoints.flow,
            &mut self.endpoints.execution,
        ] {
            endpoint.get_or_insert_with(|| local.clone());
        }
        local
    }

    fn endpoint(&self, configured: &Option<String>) -> String {
        configured
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", self.server.grpc_port))
    }

    fn sqlite_url(&self, service: &str) -> String {
        let dir = std::path::absolute(&self.data_dir).unwrap_or_else(|_| self.data_dir.clone());
        format!(
            "sqlite://{}?mode=rwc",
            dir.join(format!("{service}.db")).display()
        )
    }
}

/// The environment variable that overrides a key (`server.http-port` →
/// `AERIE_SERVER_HTTP_PORT`).
pub fn env_var_for(key: &str) -> String {
    format!("AERIE_{key}")
        .to_ascii_uppercase()
        .replace(['.', '-'], "_")
}

/// One figment error in the words of the configuration: the key as written
/// in YAML and the file, or the environment variable, with a suggestion for
/// a misspelt key. (figment's own text names its profile, `default.aerie...`,
/// and environment variables in its dotted form.)
fn describe(error: &figment::Error, file: Option<&Path>) -> String {
    use figment::error::Kind;
    let in_file = file
        .map(|f| format!(" in {}", f.display()))
        .unwrap_or_default();
    let mut path: Vec<&str> = error.path.iter().map(String::as_str).collect();
    if let Kind::UnknownField(field, expected) = &error.kind {
        // Only the file can bring an unknown key: the environment is read
        // for known keys only.
        if path.last() != Some(&field.as_str()) {
            path.push(field);
        }
        let parent = &path[..path.len() - 1];
        let within = |name: &str| {
            parent
                .iter()
                .copied()
                .chain([name])
                .collect::<Vec<_>>()
                .join(".")
        };
        let hint = match closest(field, expected.iter().copied()) {
            Some(near) => format!("; did you mean `{}`?", within(near)),
            None if expected.is_empty() => String::new(),
            None => format!(
                "; expected one of {}",
                expected
                    .iter()
                    .map(|name| format!("`{}`", within(name)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return format!("unknown key `{}`{in_file}{hint}", path.join("."));
    }
    let key = path.join(".");
    let from_env = error
        .metadata
        .as_ref()
        .is_some_and(|m| m.name.contains("environment"));
    let place = match key.strip_prefix("aerie.") {
        Some(short) if from_env => format!("environment variable {}", env_var_for(short)),
        _ if key.is_empty() => format!("the configuration{in_file}"),
        _ => format!("`{key}`{in_file}"),
    };
    let what = match &error.kind {
        Kind::InvalidType(actual, expected) => format!("found {actual}, expected {expected}"),
        Kind::InvalidValue(actual, expected) => {
            format!("invalid value {actual}, expected {expected}")
        }
        Kind::UnknownVariant(actual, expected) => format!(
            "`{actual}` is not one of {}",
            expected
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    };
    format!("{place}: {what}")
}

/// `AERIE_*` variables that configure nothing: each is a mistake, with the
/// nearest real variable when one is close.
fn unknown_variables(
    vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<String> {
    let known: Vec<String> = KEYS.iter().map(|key| env_var_for(key)).collect();
    let mut unknown = Vec::new();
    for (name, value) in vars {
        let (Some(name), value) = (name.to_str(), value.to_string_lossy()) else {
            continue;
        };
        let upper = name.to_ascii_uppercase();
        if !upper.starts_with("AERIE_")
            || TOOL_PREFIXES.iter().any(|prefix| upper.starts_with(prefix))
            || known.contains(&upper)
            || OTHER_VARIABLES.contains(&upper.as_str())
            || kubernetes_service_link(&upper, &value)
        {
            continue;
        }
        let hint = closest(&upper, known.iter().map(String::as_str))
            .map(|near| format!("; did you mean {near}?"))
            .unwrap_or_default();
        unknown.push(format!("unknown environment variable {name}{hint}"));
    }
    unknown.sort();
    unknown
}

/// Kubernetes gives every pod variables for each Service of its namespace
/// (`AERIE_GATEWAY_SERVICE_HOST`, `AERIE_GATEWAY_PORT=tcp://...`, ...) unless
/// the pod turns service links off (the chart does); a release named
/// `aerie` would otherwise trip the unknown-variable check.
fn kubernetes_service_link(name: &str, value: &str) -> bool {
    let port_link = |rest: &str| {
        // PORT_<number>_<protocol>[_PROTO|_PORT|_ADDR]
        let mut parts = rest.split('_');
        parts.next().is_some_and(|n| n.parse::<u16>().is_ok())
            && parts
                .next()
                .is_some_and(|p| matches!(p, "TCP" | "UDP" | "SCTP"))
            && parts
                .next()
                .is_none_or(|p| matches!(p, "PROTO" | "PORT" | "ADDR"))
            && parts.next().is_none()
    };
    name.ends_with("_SERVICE_HOST")
        || name.contains("_SERVICE_PORT")
        || (name.ends_with("_PORT")
            && ["tcp://", "udp://", "sctp://"]
                .iter()
                .any(|s| value.starts_with(s)))
        || name
            .rsplit_once("_PORT_")
            .is_some_and(|(_, rest)| port_link(rest))
}

/// The candidate nearest to `word` by edit distance, if near enough to be
/// a likely misspelling (a third of its length, at least two edits).
fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .map(|candidate| (edit_distance(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, counting a swap of two neighbours as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, yaml: &str) -> PathBuf {
        let path = dir.path().join("aerie.yml");
        std::fs::write(&path, yaml).expect("write config");
        path
    }

    #[test]
    fn defaults_match_the_design() {
        let config = Config::default();
        assert!(!config.tenants.enabled);
        assert!(config.tenants.default_tenant);
        assert_eq!(config.server.http_port, 8080);
        assert_eq!(config.server.grpc_port, 50051);
        assert_eq!(config.server.host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.tenant_endpoint(), "http://127.0.0.1:50051");
    }

    #[test]
    fn reads_every_key_from_yaml() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            &dir,
            "aerie:\n  tenants:\n    enabled: true\n    default-tenant: false\n  server:\n    host: 0.0.0.0\n    http-port: 9090\n    grpc-port: 9091\n    max-request-size: 1024\n  data-dir: /var/lib/aerie\n  database:\n    tenant:\n      url: postgres://db/aerie\n  endpoints:\n    tenant: http://tenant:50051\n",
        );
        let config = Config::load(Some(&path)).expect("valid config");
        assert!(config.tenants.enabled && !config.tenants.default_tenant);
        assert_eq!(config.server.http_port, 9090);
        assert_eq!(config.server.grpc_port, 9091);
        assert_eq!(config.server.max_request_size, 1024);
        assert_eq!(config.server.host.to_string(), "0.0.0.0");
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/aerie"));
        assert_eq!(config.tenant_database_url(), "postgres://db/aerie");
        assert_eq!(config.tenant_endpoint(), "http://tenant:50051");
    }

    #[test]
    fn trusted_proxies_are_a_list_or_a_comma_separated_string() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            &dir,
            "aerie:\n  security:\n    trusted-proxies: [10.0.0.0/8, \"::1\"]\n",
        );
        let config = Config::load(Some(&path)).expect("list");
        assert_eq!(config.security.trusted_proxies, ["10.0.0.0/8", "::1"]);
        let path = write(
            &dir,
            "aerie:\n  security:\n    trusted-proxies: 10.0.0.0/8, 192.168.0.0/16\n",
        );
        let config = Config::load(Some(&path)).expect("text");
        assert_eq!(
            config.security.trusted_proxies,
            ["10.0.0.0/8", "192.168.0.0/16"]
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, "aerie:\n  server:\n    http-prot: 9090\n");
        let err = Config::load(Some(&path)).expect_err("typo must fail");
        assert!(err.to_string().contains("http-prot"), "{err}");
        let path = write(&dir, "other: 1\n");
        assert!(Config::load(Some(&path)).is_err());
    }

    #[test]
    fn mistakes_name_the_real_key_and_suggest_the_near_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, "aerie:\n  tenants:\n    enabeld: true\n");
        let err = Config::load(Some(&path)).expect_err("typo").to_string();
        assert_eq!(
            err,
            format!(
                "invalid configuration: unknown key `aerie.tenants.enabeld` in {}; did you mean `aerie.tenants.enabled`?",
                path.display()
            )
        );
        assert!(!err.contains("default."), "no figment profile: {err}");

        let path = write(&dir, "aerie:\n  tenant:\n    enabled: true\n");
        let err = Config::load(Some(&path))
            .expect_err("section typo")
            .to_string();
        assert!(err.contains("did you mean `aerie.tenants`?"), "{err}");

        let path = write(&dir, "aerie:\n  server:\n    http-port: lots\n");
        let err = Config::load(Some(&path))
            .expect_err("bad value")
            .to_string();
        assert!(err.contains("`aerie.server.http-port` in "), "{err}");
        assert!(err.contains("lots"), "{err}");
    }

    #[test]
    fn unknown_aerie_variables_are_mistakes_with_a_suggestion() {
        let vars = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect::<Vec<(std::ffi::OsString, std::ffi::OsString)>>()
                .into_iter()
        };
        assert_eq!(
            unknown_variables(vars(&[("AERIE_TENANTS_ENABLD", "true")])),
            [
                "unknown environment variable AERIE_TENANTS_ENABLD; did you mean AERIE_TENANTS_ENABLED?"
            ]
        );
        assert_eq!(
            unknown_variables(vars(&[("AERIE_NOTHING_LIKE_IT", "1")])),
            ["unknown environment variable AERIE_NOTHING_LIKE_IT"]
        );
        // Real keys, variables read elsewhere, the test suite's, other
        // programs' and Kubernetes service links are all fine.
        let fine = vars(&[
            ("AERIE_SERVER_HTTP_PORT", "1"),
            ("aerie_data_dir", "/x"),
            ("AERIE_CONFIG", "/etc/aerie.yml"),
            ("AERIE_DATABASE_PASSWORD", "p"),
            ("AERIE_TEST_DATABASE_URL", "postgres://"),
            ("AERIE_BENCH_DATABASE_URL", "postgres://"),
            ("PATH", "/bin"),
            ("AERIE_GATEWAY_SERVICE_HOST", "10.0.0.1"),
            ("AERIE_GATEWAY_SERVICE_PORT_HTTP", "8080"),
            ("AERIE_GATEWAY_PORT", "tcp://10.0.0.1:8080"),
            ("AERIE_GATEWAY_PORT_8080_TCP", "tcp://10.0.0.1:8080"),
            ("AERIE_GATEWAY_PORT_8080_TCP_ADDR", "10.0.0.1"),
        ]);
        assert!(unknown_variables(fine).is_empty());
        // A misspelt port key is not mistaken for a service link.
        assert_eq!(
            unknown_variables(vars(&[("AERIE_SERVER_GRCP_PORT", "1")])).len(),
            1
        );
    }

    #[test]
    fn missing_file_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/aerie.yml"))).expect_err("missing");
        assert!(matches!(err, ConfigError::Missing(_)));
    }

    #[test]
    fn every_key_has_an_environment_variable() {
        assert_eq!(env_var_for("server.http-port"), "AERIE_SERVER_HTTP_PORT");
        assert_eq!(env_var_for("data-dir"), "AERIE_DATA_DIR");
        assert_eq!(
            env_var_for("tenants.default-tenant"),
            "AERIE_TENANTS_DEFAULT_TENANT"
        );
        // Every key in KEYS is a real key: a YAML file setting it is accepted.
        let dir = tempfile::tempdir().expect("tempdir");
        for key in KEYS {
            let mut yaml = String::from("aerie:\n");
            let parts: Vec<&str> = key.split('.').collect();
            for (depth, part) in parts.iter().enumerate() {
                let indent = "  ".repeat(depth + 1);
                if depth + 1 == parts.len() {
                    let value = match *key {
                        "tenants.enabled"
                        | "tenants.default-tenant"
                        | "storage.s3.allow-http"
                        | "executor.scheduler"
                        | "server.metrics-tenant-labels"
                        | "ui.secure-cookies" => "true",
                        "server.host" => "127.0.0.2",
                        "storage.type" => "s3",
                        k if k.ends_with("port")
                            || k.ends_with("size")
                            || k.ends_with("ttl")
                            || k.ends_with("seconds")
                            || k.ends_with("timeout")
                            || k.ends_with("-ms")
                            || k.ends_with("workers")
                            || k.ends_with("executions")
                            || k.ends_with("minute")
                            || k.ends_with("items")
                            || k.ends_with("branches")
                            || k.ends_with("-execution")
                            || k.ends_with("-run") =>
                        {
                            "1"
                        }
                        _ => "x",
                    };
                    yaml.push_str(&format!("{indent}{part}: {value}\n"));
                } else {
                    yaml.push_str(&format!("{indent}{part}:\n"));
                }
            }
            let path = write(&dir, &yaml);
            assert!(Config::load(Some(&path)).is_ok(), "{key} rejected:\n{yaml}");
        }
    }
}
