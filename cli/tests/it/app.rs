//! `TestApp`: one standalone server with a fresh database and data-dir.

use std::path::PathBuf;

use aerie::server::start_standalone;
use aerie_common::config::Config;
use aerie_common::testkit::TestDatabase;
use tokio_util::sync::CancellationToken;

/// The three `aerie.tenants` modes of DESIGN.md.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// enabled: false
    SingleTenant,
    /// enabled: true, default-tenant: true
    MultiWithDefault,
    /// enabled: true, default-tenant: false
    MultiWithoutDefault,
}

/// The super admin every test app starts with.
pub const ADMIN: (&str, &str) = ("admin", "admin-password");

/// An HTTP client for talking to the server under test. Building the
/// workspace with the `aerie` binary's S3 support turns on reqwest's rustls
/// without a crypto provider (see execution-svc's `s3` feature), and reqwest
/// then needs a process default even for plain `http://`.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

pub struct TestApp {
    pub http: String,
    /// A token of the super admin.
    pub admin: String,
    pub grpc: String,
    pub config: Config,
    pub config_path: PathBuf,
    pub client: reqwest::Client,
    pub shutdown: CancellationToken,
    /// flow-svc's database, for tests that look underneath the API.
    pub flow_db: TestDatabase,
    /// execution-svc's database, shared with extra execution processes.
    pub execution_db: TestDatabase,
    /// The five processes, in multi-process mode (see `topology`).
    _processes: Option<crate::cluster::Processes>,
    _db: TestDatabase,
    /// auth-svc's database, for tests that look underneath the API.
    pub auth_db: TestDatabase,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    pub async fn start(mode: Mode) -> TestApp {
        Self::start_with(mode, |_| {}).await
    }

    /// Starts with `adjust` applied to the configuration last.
    pub async fn start_with(mode: Mode, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = TestDatabase::new("tenant").await;
        let auth_db = TestDatabase::new("auth").await;
        let flow_db = TestDatabase::new("flow").await;
        let execution_db = TestDatabase::new("execution").await;
        let mut config = Config::default();
        (config.tenants.enabled, config.tenants.default_tenant) = match mode {
            Mode::SingleTenant => (false, true),
            Mode::MultiWithDefault => (true, true),
            Mode::MultiWithoutDefault => (true, false),
        };
        config.server.http_port = 0;
        config.server.grpc_port = 0;
        config.data_dir = dir.path().join("data");
        config.database.tenant = db.config();
        config.database.auth = auth_db.config();
        config.database.flow = flow_db.config();
        config.database.execution = execution_db.config();
        config.security.super_admin.username = Some(ADMIN.0.to_owned());
        config.security.super_admin.password = Some(ADMIN.1.to_owned());
        adjust(&mut config);

        // JSON is YAML: the same configuration as a file, for the CLI.
        let config_path = dir.path().join("aerie.yml");
        let file = serde_json::json!({ "aerie": config });
        std::fs::write(&config_path, file.to_string()).expect("write config");

        let shutdown = CancellationToken::new();
        let (http_addr, grpc_addr, processes) = if crate::topology::processes_requested() {
            // The credentials standalone generates under data-dir, made once
            // before five processes race to make them.
            config.service_token().expect("service token");
            config.secrets_master_key().expect("master key");
            let (processes, http, grpc) =
                crate::topology::start(&config_path, shutdown.clone()).await;
            (http, grpc, Some(processes))
        } else {
            let server = start_standalone(config.clone(), shutdown.clone())
                .await
                .expect("standalone starts");
            (server.http_addr, server.grpc_addr, None)
        };
        let http = format!("http://{http_addr}");
        let admin = login(&http, ADMIN.0, ADMIN.1).await;
        TestApp {
            http,
            admin,
            grpc: format!("http://{grpc_addr}"),
            _processes: processes,
            config,
            config_path,
            client: http_client(),
            shutdown,
            flow_db,
            execution_db,
            _db: db,
            auth_db,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.http)
    }

    /// Sends a request with `token` (none: anonymous) and reads the JSON answer.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("request")).await
    }

    /// POSTs a multipart form as the super admin and reads the JSON answer.
    pub async fn post_form(
        &self,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> (u16, serde_json::Value) {
        let request = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.admin)
            .multipart(form);
        read(request.send().await.expect("multipart")).await
    }

    /// Runs the `aerie` CLI on this server's configuration: (success,
    /// stdout, stderr). The wait happens off the test's runtime thread,
    /// which also runs the server: blocking it could freeze the server
    /// inside a write transaction, and the CLI would find the database
    /// locked.
    pub async fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_aerie"));
        command.arg("-c").arg(&self.config_path).args(args);
        let output = tokio::task::spawn_blocking(move || command.output().expect("run aerie"))
            .await
            .expect("join");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::GET, path, Some(&self.admin), None)
            .await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::POST, path, Some(&self.admin), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::PUT, path, Some(&self.admin), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::DELETE, path, Some(&self.admin), None)
            .await
    }

    /// Sends a YAML body (a flow) with `token` and reads the JSON answer.
    pub async fn yaml(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        source: &str,
    ) -> (u16, serde_json::Value) {
        let request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/x-yaml")
            .body(source.to_owned());
        read(request.send().await.expect("request")).await
    }

    /// A gRPC channel to the services.
    /// A channel that also reaches Aerie's internal services: in-process
    /// to a standalone server (whose port serves clients the public
    /// services only, as the gateway's endpoint does), and through the
    /// router to the five processes' own ports otherwise.
    pub fn internal_channel(&self) -> aerie_common::grpc::Channel {
        aerie_common::grpc::lazy_channel(&self.grpc).expect("endpoint")
    }

    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Channel::from_shared(self.grpc.clone())
            .expect("uri")
            .connect()
            .await
            .expect("connect")
    }

    /// Creates a user (as the super admin) and returns a token of theirs.
    pub async fn user(&self, username: &str) -> String {
        let password = format!("{username}-password");
        let (status, body) = self
            .post(
                "/api/v1/users",
                serde_json::json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        login(&self.http, username, &password).await
    }

    /// Binds `role` to `username` in `tenant` (None: default tenant) as the super admin.
    pub async fn bind(
        &self,
        tenant: Option<&str>,
        username: &str,
        role: &str,
        namespace: Option<&str>,
    ) -> String {
        let path = match tenant {
            Some(t) => format!("/api/v1/{t}/bindings"),
            None => "/api/v1/bindings".to_owned(),
        };
        let (status, body) = self
            .post(
                &path,
                serde_json::json!({"type": "USER", "subject": username, "role": role, "namespace": namespace}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("binding id").to_owned()
    }

    /// Creates a tenant through REST and asserts it worked.
    pub async fn create_tenant(&self, id: &str) {
        let (status, body) = self
            .post(
                "/api/v1/tenants",
                serde_json::json!({"id": id, "name": id.to_uppercase()}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
}

/// A gRPC request with an optional bearer token and tenant header.
pub fn call<T>(message: T, token: Option<&str>, tenant: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        let value = format!("Bearer {token}").parse().expect("ascii");
        request.metadata_mut().insert("authorization", value);
    }
    if let Some(tenant) = tenant {
        request
            .metadata_mut()
            .insert("x-aerie-tenant", tenant.parse().expect("ascii"));
    }
    request
}

/// Logs in through REST and returns the access token.
pub async fn login(http: &str, username: &str, password: &str) -> String {
    let response = http_client()
        .post(format!("{http}/api/v1/auths/token"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login");
    let (status, body) = read(response).await;
    assert_eq!(status, 200, "login of {username}: {body}");
    body["access_token"].as_str().expect("token").to_owned()
}

/// Status and JSON body; every answer of the gateway, errors included, is JSON.
pub async fn read(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    if text.is_empty() {
        return (status, serde_json::Value::Null);
    }
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text}"));
    (status, json)
}
