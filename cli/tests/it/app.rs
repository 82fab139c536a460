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

pub struct TestApp {
    pub http: String,
    pub grpc: String,
    pub config: Config,
    pub config_path: PathBuf,
    pub client: reqwest::Client,
    pub shutdown: CancellationToken,
    _db: TestDatabase,
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
        let mut config = Config::default();
        (config.tenants.enabled, config.tenants.default_tenant) = match mode {
            Mode::SingleTenant => (false, true),
            Mode::MultiWithDefault => (true, true),
            Mode::MultiWithoutDefault => (true, false),
        };
        config.server.http_port = 0;
        config.server.grpc_port = 0;
        config.data_dir = dir.path().join("data");
        config.database.tenant.url = Some(db.url.clone());
        adjust(&mut config);

        // JSON is YAML: the same configuration as a file, for the CLI.
        let config_path = dir.path().join("aerie.yml");
        let file = serde_json::json!({ "aerie": config });
        std::fs::write(&config_path, file.to_string()).expect("write config");

        let shutdown = CancellationToken::new();
        let server = start_standalone(config.clone(), shutdown.clone())
            .await
            .expect("standalone starts");
        TestApp {
            http: format!("http://{}", server.http_addr),
            grpc: format!("http://{}", server.grpc_addr),
            config,
            config_path,
            client: reqwest::Client::new(),
            shutdown,
            _db: db,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.http)
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.client.get(self.url(path)).send().await.expect("GET");
        read(response).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("POST");
        read(response).await
    }

    pub async fn put(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let response = self
            .client
            .put(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("PUT");
        read(response).await
    }

    pub async fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .client
            .delete(self.url(path))
            .send()
            .await
            .expect("DELETE");
        read(response).await
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
