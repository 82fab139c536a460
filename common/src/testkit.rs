//! Test helpers: a fresh database per test, SQLite in a temporary directory
//! or, when `AERIE_TEST_DATABASE_URL` names a PostgreSQL database, a fresh
//! schema in it, so that tests never collide and run on both backends.

use sea_orm::{ConnectionTrait, Database};

/// The variable naming the PostgreSQL database tests may use.
pub const TEST_DATABASE_URL_VAR: &str = "AERIE_TEST_DATABASE_URL";

/// A database that lives as long as the value.
pub struct TestDatabase {
    /// The URL a service connects with.
    pub url: String,
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
                let separator = if base.contains('?') { '&' } else { '?' };
                TestDatabase {
                    url: format!("{base}{separator}options=-c%20search_path%3D{schema}"),
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
                    backend: "sqlite",
                    _dir: Some(dir),
                }
            }
        }
    }
}
