//! Secrets the embedded default creates for itself under `data-dir`, once,
//! readable by their owner only (the service token, the secrets master key),
//! and the owner-only permissions of `data-dir` itself.

use std::io::Write;
use std::path::Path;

/// The trimmed contents of `<data_dir>/<name>`, created with `make()` when
/// missing or empty. Racing processes agree: the first file written wins.
/// The file appears whole or not at all (written aside, synced, then linked
/// into place), so a crash never leaves an empty secret behind; a file that
/// is present but shorter than `min_len` is refused rather than trusted.
pub fn created_once(
    data_dir: &Path,
    name: &str,
    min_len: usize,
    make: impl FnOnce() -> String,
) -> std::io::Result<String> {
    let path = data_dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(value) if !value.trim().is_empty() => return checked(&path, value, min_len),
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    create_private_dir(data_dir)?;
    let value = make();
    let aside = data_dir.join(format!(".{name}.{}", uuid::Uuid::new_v4().simple()));
    write_synced(&aside, &value)?;
    // An empty file never held a secret: replace it. A missing one is
    // linked so that, of processes racing here, the first one wins.
    let placed = if path.exists() {
        std::fs::rename(&aside, &path)
    } else {
        std::fs::hard_link(&aside, &path).or_else(|err| match err.kind() {
            std::io::ErrorKind::AlreadyExists => Ok(()),
            _ => Err(err),
        })
    };
    let _ = std::fs::remove_file(&aside);
    placed?;
    sync_dir(data_dir);
    checked(&path, std::fs::read_to_string(&path)?, min_len)
}

fn checked(path: &Path, value: String, min_len: usize) -> std::io::Result<String> {
    let value = value.trim().to_owned();
    if value.len() < min_len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} holds {} bytes, fewer than the {min_len} required: delete it to have a new one generated",
                path.display(),
                value.len()
            ),
        ));
    }
    Ok(value)
}

/// Writes a new file readable by its owner only and syncs it to disk.
fn write_synced(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

fn sync_dir(dir: &Path) {
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
}

/// Creates `dir` (and missing parents) readable by its owner only. An
/// existing directory keeps its mode; see [`warn_if_exposed`].
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes a file (a database, a stored object) readable by its owner only.
pub fn restrict_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Logs a warning when `dir` is readable, writable or searchable by other
/// users of the host: its databases hold the keys that sign every token.
/// Returns whether it is exposed.
pub fn warn_if_exposed(dir: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(dir)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                data_dir = %dir.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "data-dir is accessible to other users of this host; it holds signing keys and secrets: chmod 700 it"
            );
            return true;
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn a_secret_is_made_once_owner_only_in_an_owner_only_dir() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("data");
        let first = created_once(&dir, "s", 8, || "abcdefghij".to_owned()).expect("made");
        let again = created_once(&dir, "s", 8, || "zzzzzzzzzz".to_owned()).expect("read");
        assert_eq!(
            (first.as_str(), again.as_str()),
            ("abcdefghij", "abcdefghij")
        );
        #[cfg(unix)]
        {
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&dir.join("s")), 0o600);
        }
        // Nothing written aside is left behind.
        let names: Vec<_> = std::fs::read_dir(&dir).expect("dir").collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn an_empty_secret_file_is_replaced_and_a_short_one_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("s"), "").expect("empty file");
        let made = created_once(dir.path(), "s", 8, || "abcdefghij".to_owned()).expect("made");
        assert_eq!(made, "abcdefghij");
        std::fs::write(dir.path().join("t"), "short").expect("short file");
        let err = created_once(dir.path(), "t", 8, || "abcdefghij".to_owned()).expect_err("short");
        assert!(err.to_string().contains("fewer than the 8"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn an_exposed_data_dir_is_reported() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        assert!(warn_if_exposed(dir.path()));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        assert!(!warn_if_exposed(dir.path()));
    }
}
