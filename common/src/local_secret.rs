//! Secrets the embedded default creates for itself under `data-dir`, once,
//! readable by their owner only (the service token, the secrets master key).

use std::path::Path;

/// The trimmed contents of `<data_dir>/<name>`, created with `make()` when
/// missing or empty. Racing processes agree: the first file written wins.
pub fn created_once(
    data_dir: &Path,
    name: &str,
    make: impl FnOnce() -> String,
) -> std::io::Result<String> {
    let path = data_dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
        _ => {
            std::fs::create_dir_all(data_dir)?;
            write_private(&path, &make())?;
            Ok(std::fs::read_to_string(&path)?.trim().to_owned())
        }
    }
}

/// Writes a file readable by its owner only, without replacing one that exists.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => file.write_all(contents.as_bytes()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}
