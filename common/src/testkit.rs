//! Test helpers: a fresh database per test, SQLite in a temporary directory
//! or, when `AERIE_TEST_DATABASE_URL` names a PostgreSQL database, a fresh
//! schema in it, so that tests never collide and run on both backends.

use sea_orm::{ConnectionTrait, Database};

/// The variable naming the PostgreSQL database tests may use.
pub const TEST_DATABASE_URL_VAR: &str = "AERIE_TEST_DATABASE_URL";

/// The variable naming the same database as a role that owns nothing: set,
/// services run as it and migrate as the owner of their test schema.
pub const TEST_APP_DATABASE_URL_VAR: &str = "AERIE_TEST_APP_DATABASE_URL";

/// A database that lives as long as the value.
pub struct TestDatabase {
    /// The URL of the schema's owner: migrations, and tests that look
    /// underneath the API.
    pub url: String,
    /// The URL of a role holding data access only, when the tests have one
    /// (see [`TEST_APP_DATABASE_URL_VAR`]).
    pub runtime_url: Option<String>,
    /// Which backend, for test names and messages.
    pub backend: &'static str,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// A fresh, empty database for one service of one test.
    pub async fn new(service: &str) -> TestDatabase {
        match std::env::var(TEST_DATABASE_URL_VAR) {
            Ok(base) if !base.is_empty() => {
                let schema = format!(
                    "t_{service}_{}",
                    uuid::Uuid::new_v4()
                        .simple()
                        .to_string()
                        .get(..12)
                        .unwrap_or("x")
                );
                let admin = Database::connect(base.as_str())
                    .await
                    .expect("connect to AERIE_TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                    .await
                    .expect("create test schema");
                admin.close().await.expect("close admin connection");
                let in_schema = |base: &str| {
                    let separator = if base.contains('?') { '&' } else { '?' };
                    format!("{base}{separator}options=-c%20search_path%3D{schema}")
                };
                TestDatabase {
                    url: in_schema(&base),
                    runtime_url: std::env::var(TEST_APP_DATABASE_URL_VAR)
                        .ok()
                        .filter(|url| !url.is_empty())
                        .map(|url| in_schema(&url)),
                    backend: "postgres",
                    _dir: None,
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join(format!("{service}.db")).display()
                );
                TestDatabase {
                    url,
                    runtime_url: None,
                    backend: "sqlite",
                    _dir: Some(dir),
                }
            }
        }
    }

    /// This database as a service's configuration: the runtime role when
    /// there is one, migrating as the owner.
    pub fn config(&self) -> crate::config::DatabaseUrl {
        match &self.runtime_url {
            Some(runtime) => crate::config::DatabaseUrl {
                url: Some(runtime.clone()),
                migration_url: Some(self.url.clone()),
            },
            None => crate::config::DatabaseUrl {
                url: Some(self.url.clone()),
                migration_url: None,
            },
        }
    }
}
