//! Internal storage: execution files behind one object-store interface, a
//! local directory by default or an S3-compatible bucket. Every object key
//! starts with the tenant's storage key, which no caller supplies: a path
//! names a file inside the tenant of the call, never across tenants.

use std::sync::Arc;

use aerie_common::TenantId;
use aerie_common::config::{Config, StorageKind};
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::domain::STORAGE_SCHEME;

/// Why a file could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0}")]
    InvalidPath(String),
    #[error("file not found")]
    NotFound,
    #[error("file is larger than {0} bytes")]
    TooLarge(usize),
    #[error("internal storage: {0}")]
    Backend(String),
}

impl From<StorageError> for tonic::Status {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::InvalidPath(_) => tonic::Status::invalid_argument(err.to_string()),
            StorageError::NotFound => tonic::Status::not_found(err.to_string()),
            StorageError::TooLarge(_) => tonic::Status::failed_precondition(err.to_string()),
            StorageError::Backend(_) => tonic::Status::internal(err.to_string()),
        }
    }
}

/// A checked path inside one tenant's storage: relative, `/`-separated,
/// with no empty, `.` or `..` segment and none of `\`, `%`, `:` or control
/// characters (so neither traversal nor an encoded separator gets through).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoragePath(String);

impl StoragePath {
    pub fn parse(path: &str) -> Result<StoragePath, StorageError> {
        let refuse = |why: &str| {
            Err(StorageError::InvalidPath(format!(
                "storage path '{}' {why}",
                path.chars().take(200).collect::<String>()
            )))
        };
        if path.is_empty() || path.len() > 1024 {
            return refuse("must have 1 to 1024 characters");
        }
        if path.starts_with('/') {
            return refuse("must be relative");
        }
        if path
            .chars()
            .any(|c| c.is_control() || matches!(c, '\\' | '%' | ':' | '*' | '?'))
        {
            return refuse("contains a character that is not allowed");
        }
        if path
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..")
        {
            return refuse("has an empty, '.' or '..' segment");
        }
        Ok(StoragePath(path.to_owned()))
    }

    /// The path of a `kestra:///...` URI.
    pub fn from_uri(uri: &str) -> Result<StoragePath, StorageError> {
        match uri.strip_prefix(STORAGE_SCHEME) {
            Some(path) => StoragePath::parse(path),
            None => Err(StorageError::InvalidPath(format!(
                "a file URI starts with {STORAGE_SCHEME}"
            ))),
        }
    }

    pub fn uri(&self) -> String {
        format!("{STORAGE_SCHEME}{}", self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this path lies inside `folder` (a path prefix of whole segments).
    pub fn is_within(&self, folder: &str) -> bool {
        self.0
            .strip_prefix(folder)
            .is_some_and(|rest| rest.starts_with('/'))
    }

    /// Whether the file lies in the folder of one of `executions`
    /// (`.../executions/{id}/...`): what an execution may read is its own
    /// files and those of the execution that started it.
    pub fn belongs_to_any(&self, executions: &[&str]) -> bool {
        let segments: Vec<&str> = self.0.split('/').collect();
        segments
            .windows(2)
            .any(|pair| pair[0] == "executions" && executions.contains(&pair[1]))
    }

    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

/// A file name as uploaded, reduced to characters safe in any store.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if cleaned.trim_matches('.').is_empty() {
        "file".to_owned()
    } else {
        cleaned
    }
}

/// The internal storage of every tenant.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The root of local storage, whose files are narrowed to owner-only.
    local_root: Option<std::path::PathBuf>,
}

impl Storage {
    /// The backend `aerie.storage.*` configures.
    pub fn from_config(config: &Config) -> Result<Storage, StorageError> {
        match config.storage.kind {
            StorageKind::Local => Storage::local(&config.local_storage_path()),
            StorageKind::S3 => Storage::s3(config),
        }
    }

    /// Files under a local directory (created when missing).
    pub fn local(dir: &std::path::Path) -> Result<Storage, StorageError> {
        aerie_common::local_secret::create_private_dir(dir)
            .map_err(|e| StorageError::Backend(format!("cannot create {}: {e}", dir.display())))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| StorageError::Backend(e.to_string()))?;
        Ok(Storage {
            store: Arc::new(store),
            local_root: Some(std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned())),
        })
    }

    #[cfg(not(feature = "s3"))]
    fn s3(_: &Config) -> Result<Storage, StorageError> {
        Err(StorageError::Backend(
            "this build has no S3 support (feature `s3` of aerie-execution-svc)".into(),
        ))
    }

    #[cfg(feature = "s3")]
    fn s3(config: &Config) -> Result<Storage, StorageError> {
        let s3 = &config.storage.s3;
        // reqwest is built without a TLS provider of its own (see the `s3`
        // feature); it takes the process default. Err means one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&s3.bucket)
            .with_region(&s3.region)
            .with_allow_http(s3.allow_http);
        if let Some(endpoint) = &s3.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(key) = &s3.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &s3.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder
            .build()
            .map_err(|e| StorageError::Backend(e.to_string()))?;
        Ok(Storage {
            store: Arc::new(store),
            local_root: None,
        })
    }

    fn key(tenant: &TenantId, path: &StoragePath) -> Result<Path, StorageError> {
        Path::parse(format!("{}/{}", tenant.storage_key(), path.as_str()))
            .map_err(|e| StorageError::InvalidPath(e.to_string()))
    }

    pub async fn put(
        &self,
        tenant: &TenantId,
        path: &StoragePath,
        content: Bytes,
    ) -> Result<(), StorageError> {
        let key = Self::key(tenant, path)?;
        self.store
            .put(&key, PutPayload::from_bytes(content))
            .await
            .map_err(|e| StorageError::Backend(e.to_string()))?;
        if let Some(root) = &self.local_root {
            let file = key
                .parts()
                .fold(root.clone(), |dir, part| dir.join(part.as_ref()));
            aerie_common::local_secret::restrict_file(&file).map_err(|e| {
                StorageError::Backend(format!("cannot restrict {}: {e}", file.display()))
            })?;
        }
        Ok(())
    }

    /// The file's bytes, refused when larger than `max_bytes`.
    pub async fn get(
        &self,
        tenant: &TenantId,
        path: &StoragePath,
        max_bytes: usize,
    ) -> Result<Bytes, StorageError> {
        let found = self.store.get(&Self::key(tenant, path)?).await;
        let result = match found {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Err(StorageError::NotFound),
            Err(e) => return Err(StorageError::Backend(e.to_string())),
        };
        if result.meta.size > max_bytes as u64 {
            return Err(StorageError::TooLarge(max_bytes));
        }
        result
            .bytes()
            .await
            .map_err(|e| StorageError::Backend(e.to_string()))
    }

    /// Removes every file under `folder`; answers how many.
    pub async fn delete_folder(
        &self,
        tenant: &TenantId,
        folder: &StoragePath,
    ) -> Result<u64, StorageError> {
        use futures::StreamExt;
        let prefix = Self::key(tenant, folder)?;
        let mut listed = self.store.list(Some(&prefix));
        let mut removed = 0;
        while let Some(found) = listed.next().await {
            let meta = match found {
                Ok(meta) => meta,
                Err(object_store::Error::NotFound { .. }) => break,
                Err(e) => return Err(StorageError::Backend(e.to_string())),
            };
            match self.store.delete(&meta.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => removed += 1,
                Err(e) => return Err(StorageError::Backend(e.to_string())),
            }
        }
        Ok(removed)
    }

    /// Every file of the tenant, its path inside the tenant's storage.
    pub async fn files(&self, tenant: &TenantId) -> Result<Vec<StoragePath>, StorageError> {
        use futures::StreamExt;
        let root = Path::parse(tenant.storage_key())
            .map_err(|e| StorageError::InvalidPath(e.to_string()))?;
        let mut listed = self.store.list(Some(&root));
        let mut found = Vec::new();
        while let Some(meta) = listed.next().await {
            let meta = match meta {
                Ok(meta) => meta,
                Err(object_store::Error::NotFound { .. }) => break,
                Err(e) => return Err(StorageError::Backend(e.to_string())),
            };
            let location = meta.location.as_ref();
            let inside = location
                .strip_prefix(tenant.storage_key())
                .and_then(|rest| rest.strip_prefix('/'))
                .unwrap_or(location);
            found.push(StoragePath::parse(inside)?);
        }
        Ok(found)
    }

    /// Removes a file; a missing one is not an error.
    pub async fn delete(&self, tenant: &TenantId, path: &StoragePath) -> Result<(), StorageError> {
        match self.store.delete(&Self::key(tenant, path)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(StorageError::Backend(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_and_encoded_separators_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a/./b",
            "a//b",
            "a/",
            "a\\..\\b",
            "a/%2e%2e/b",
            "a%2Fb",
            "c:/x",
            "a/\0b",
        ] {
            assert!(StoragePath::parse(bad).is_err(), "{bad:?} accepted");
        }
        for uri in [
            "file:///etc/passwd",
            "kestra://other/a",
            "kestra:////a",
            "/a/b",
        ] {
            assert!(StoragePath::from_uri(uri).is_err(), "{uri:?} accepted");
        }
        let ok = StoragePath::from_uri("kestra:///company/team/f/executions/x/a.txt").unwrap();
        assert_eq!(ok.as_str(), "company/team/f/executions/x/a.txt");
        assert!(ok.is_within("company/team/f/executions/x"));
        assert!(!ok.is_within("company/team/f/executions/xy"));
        assert_eq!(ok.file_name(), "a.txt");
        assert_eq!(safe_file_name("../../etc/pass wd"), "pass_wd");
        assert_eq!(safe_file_name(".."), "file");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn local_files_and_their_root_are_readable_by_the_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("storage");
        let storage = Storage::local(&root).unwrap();
        let tenant = TenantId::parse("acme").unwrap();
        let path = StoragePath::parse("ns/f/executions/1/out.txt").unwrap();
        storage
            .put(&tenant, &path, Bytes::from_static(b"x"))
            .await
            .unwrap();
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("acme/ns/f/executions/1/out.txt")), 0o600);
    }

    #[tokio::test]
    async fn tenants_have_separate_roots() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::local(dir.path()).unwrap();
        let (a, b) = (
            TenantId::parse("acme").unwrap(),
            TenantId::parse("globex").unwrap(),
        );
        let path = StoragePath::parse("ns/f/executions/1/out.txt").unwrap();
        storage
            .put(&a, &path, Bytes::from_static(b"acme data"))
            .await
            .unwrap();
        assert_eq!(
            &storage.get(&a, &path, 100).await.unwrap()[..],
            b"acme data"
        );
        assert!(matches!(
            storage.get(&b, &path, 100).await,
            Err(StorageError::NotFound)
        ));
        assert!(matches!(
            storage.get(&a, &path, 3).await,
            Err(StorageError::TooLarge(3))
        ));
        assert!(dir.path().join("acme/ns/f/executions/1/out.txt").is_file());
    }
}
