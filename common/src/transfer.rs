//! Tenant archives (`aerie tenants export` / `import`): everything a
//! tenant owns, one entry per table of each service (JSON lines) plus its
//! files, in a zstd-compressed tar. A manifest lists every entry with its
//! SHA-256, so a damaged or altered archive is refused before anything is
//! written. Each service reads and writes its own entries; this module
//! only knows entries.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use sea_orm::{ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::TenantTxn;
use aerie_proto::transfer::internal::v1 as pb;

/// The archive layout this build writes and reads.
pub const FORMAT: u32 = 1;

/// The manifest's own entry.
const MANIFEST: &str = "manifest.json";

/// What one archive may hold once decompressed: archives are read into
/// memory whole. The CLI's limit (the operator's own memory).
pub const MAX_ARCHIVE_BYTES: u64 = 4 << 30;

/// The limit for archives that a running server takes in or hands out
/// (the API): its memory is every tenant's, and an archive passes through
/// several services.
pub const MAX_API_ARCHIVE_BYTES: u64 = 256 << 20;

/// Why an archive cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the archive is damaged or not a tenant archive: {0}")]
    Damaged(String),
    #[error("{0}")]
    Refused(String),
}

/// What an archive says about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: u32,
    /// The exported tenant's id (`_default` for the default tenant) and name.
    pub tenant: String,
    pub name: String,
    pub exported_at: chrono::DateTime<chrono::Utc>,
    pub aerie_version: String,
    /// Secrets are in the archive, sealed with the operator's transfer key.
    pub sealed_secrets: usize,
    /// Every entry and its SHA-256 (hex).
    pub entries: BTreeMap<String, String>,
}

/// A tenant's archive, in memory.
#[derive(Debug, Clone)]
pub struct Archive {
    pub manifest: Manifest,
    entries: BTreeMap<String, Vec<u8>>,
}

impl Archive {
    pub fn new(tenant: &str, name: &str) -> Archive {
        Archive {
            manifest: Manifest {
                format: FORMAT,
                tenant: tenant.to_owned(),
                name: name.to_owned(),
                exported_at: chrono::Utc::now(),
                aerie_version: env!("CARGO_PKG_VERSION").to_owned(),
                sealed_secrets: 0,
                entries: BTreeMap::new(),
            },
            entries: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) an entry.
    pub fn put(&mut self, name: &str, content: Vec<u8>) {
        self.manifest
            .entries
            .insert(name.to_owned(), hex(&Sha256::digest(&content)));
        self.entries.insert(name.to_owned(), content);
    }

    /// Adds rows as JSON lines.
    pub fn put_rows<T: Serialize>(&mut self, name: &str, rows: &[T]) -> Result<(), TransferError> {
        let mut content = Vec::new();
        for row in rows {
            serde_json::to_writer(&mut content, row)
                .map_err(|e| TransferError::Refused(format!("{name}: {e}")))?;
            content.push(b'\n');
        }
        self.put(name, content);
        Ok(())
    }

    /// The rows of an entry; an absent entry has none.
    pub fn rows<T: DeserializeOwned>(&self, name: &str) -> Result<Vec<T>, TransferError> {
        let Some(content) = self.entries.get(name) else {
            return Ok(Vec::new());
        };
        content
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_slice(line)
                    .map_err(|e| TransferError::Damaged(format!("{name}, line {}: {e}", i + 1)))
            })
            .collect()
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.entries.get(name).map(Vec::as_slice)
    }

    /// The entries whose names start with `prefix`, the prefix removed.
    pub fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a [u8])> {
        self.entries
            .range(prefix.to_owned()..)
            .take_while(move |(name, _)| name.starts_with(prefix))
            .map(move |(name, content)| (&name[prefix.len()..], content.as_slice()))
    }

    /// Every entry, by name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(n, c)| (n.as_str(), c.as_slice()))
    }

    /// How many rows an entry of JSON lines holds.
    pub fn count_rows(&self, name: &str) -> usize {
        self.entries.get(name).map_or(0, |content| {
            content
                .split(|b| *b == b'\n')
                .filter(|line| !line.is_empty())
                .count()
        })
    }

    /// The archive as the bytes of its file.
    pub fn to_bytes(&self) -> Result<Vec<u8>, TransferError> {
        let mut tar = tar::Builder::new(Vec::new());
        let manifest = serde_json::to_vec_pretty(&self.manifest)
            .map_err(|e| TransferError::Refused(e.to_string()))?;
        for (name, content) in std::iter::once((MANIFEST, &manifest))
            .chain(self.entries.iter().map(|(n, c)| (n.as_str(), c)))
        {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o600);
            header.set_mtime(self.manifest.exported_at.timestamp().max(0) as u64);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, name, content.as_slice())?;
        }
        let tar = tar.into_inner()?;
        let mut compressed = Vec::new();
        ruzstd::encoding::compress(
            tar.as_slice(),
            &mut compressed,
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        Ok(compressed)
    }

    /// Reads and checks an archive's bytes (see [`Archive::read_from`]),
    /// refused past `limit` bytes decompressed.
    pub fn from_bytes(bytes: &[u8], limit: u64) -> Result<Archive, TransferError> {
        Self::read(bytes, limit)
    }

    /// Writes the archive to `path` through a temporary file beside it, so
    /// a failure leaves no half-written archive.
    pub fn write_to(&self, path: &Path) -> Result<(), TransferError> {
        let bytes = self.to_bytes()?;
        let temporary = path.with_extension("partial");
        {
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(&bytes)?;
            file.flush()?;
            file.sync_all()?;
        }
        crate::local_secret::restrict_file(&temporary)?;
        std::fs::rename(&temporary, path)?;
        Ok(())
    }

    /// Reads and checks an archive: the format, and every entry against the
    /// manifest (none missing, none extra, none altered).
    pub fn read_from(path: &Path) -> Result<Archive, TransferError> {
        let file = std::fs::File::open(path)?;
        Self::read(std::io::BufReader::new(file), MAX_ARCHIVE_BYTES)
    }

    fn read(source: impl Read, limit: u64) -> Result<Archive, TransferError> {
        let damaged = |why: String| TransferError::Damaged(why);
        let decoder = ruzstd::decoding::StreamingDecoder::new(source)
            .map_err(|e| damaged(format!("not zstd: {e}")))?;
        // A tar header per entry comes on top of the content: room for it.
        let mut tar = tar::Archive::new(decoder.take(limit.saturating_mul(2) + (1 << 20)));
        let mut entries = BTreeMap::new();
        let mut manifest = None;
        let mut total = 0u64;
        for entry in tar.entries().map_err(|e| damaged(e.to_string()))? {
            let mut entry = entry.map_err(|e| damaged(e.to_string()))?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                return Err(damaged("an entry is not a regular file".into()));
            }
            let name = entry
                .path()
                .map_err(|e| damaged(e.to_string()))?
                .to_str()
                .ok_or_else(|| damaged("an entry name is not UTF-8".into()))?
                .to_owned();
            // Sizes are checked before anything is read: a small archive
            // may claim (and hold) a huge entry.
            total += entry.header().size().map_err(|e| damaged(e.to_string()))?;
            if total > limit {
                return Err(TransferError::Refused(format!(
                    "the archive holds more than {limit} bytes"
                )));
            }
            let mut content = Vec::new();
            entry
                .read_to_end(&mut content)
                .map_err(|e| damaged(format!("{name}: {e}")))?;
            if name == MANIFEST {
                manifest = Some(
                    serde_json::from_slice::<Manifest>(&content)
                        .map_err(|e| damaged(format!("{MANIFEST}: {e}")))?,
                );
            } else if entries.insert(name.clone(), content).is_some() {
                return Err(damaged(format!("{name} is in it twice")));
            }
        }
        let manifest = manifest.ok_or_else(|| damaged(format!("it has no {MANIFEST}")))?;
        if manifest.format != FORMAT {
            return Err(TransferError::Refused(format!(
                "archive format {} is not {FORMAT}, the one this build reads",
                manifest.format
            )));
        }
        for (name, content) in &entries {
            match manifest.entries.get(name) {
                None => return Err(damaged(format!("{name} is not in its manifest"))),
                Some(sum) if *sum != hex(&Sha256::digest(content)) => {
                    return Err(damaged(format!("{name} does not match its checksum")));
                }
                Some(_) => {}
            }
        }
        if let Some(missing) = manifest.entries.keys().find(|n| !entries.contains_key(*n)) {
            return Err(damaged(format!("{missing} is missing")));
        }
        Ok(Archive { manifest, entries })
    }
}

/// Every row of `E` in the transaction's tenant (`tenant_column` holds
/// the tenant's storage key).
pub async fn tenant_rows<E: EntityTrait>(
    tx: &TenantTxn,
    tenant_column: E::Column,
) -> Result<Vec<E::Model>, DbErr> {
    E::find()
        .filter(tenant_column.eq(tx.tenant_key()))
        .all(tx.conn())
        .await
}

/// Inserts rows in bounded statements (SQLite's limit on variables).
pub async fn insert_rows<A>(tx: &TenantTxn, rows: Vec<A>) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(100).collect();
        A::Entity::insert_many(chunk).exec(tx.conn()).await?;
    }
    Ok(())
}

/// Deletes every row of `E` in the transaction's tenant.
pub async fn delete_tenant_rows<E: EntityTrait>(
    tx: &TenantTxn,
    tenant_column: E::Column,
) -> Result<u64, DbErr> {
    Ok(E::delete_many()
        .filter(tenant_column.eq(tx.tenant_key()))
        .exec(tx.conn())
        .await?
        .rows_affected)
}

/// Where an archive keeps the tenant's own record (name and quotas).
pub const TENANT_ENTRY: &str = "tenant/tenant.json";

/// The largest chunk of an entry in one message.
const CHUNK_BYTES: usize = 1 << 20;

/// An archive's entries as a stream of chunked messages (a service's part
/// of an export).
pub type EntryStream =
    tokio_stream::wrappers::ReceiverStream<Result<pb::ArchiveEntry, tonic::Status>>;

/// Streams `archive`'s entries, each cut into chunks.
pub fn stream_entries(archive: Archive) -> EntryStream {
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        for (name, content) in archive.entries {
            for message in chunks(&name, &content) {
                if sender.send(Ok(message)).await.is_err() {
                    return;
                }
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(receiver)
}

/// One entry as messages of at most [`CHUNK_BYTES`] (an empty entry is one
/// empty message).
pub fn chunks(name: &str, content: &[u8]) -> Vec<pb::ArchiveEntry> {
    let pieces: Vec<&[u8]> = if content.is_empty() {
        vec![&[][..]]
    } else {
        content.chunks(CHUNK_BYTES).collect()
    };
    let last = pieces.len() - 1;
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, data)| pb::ArchiveEntry {
            name: name.to_owned(),
            data: data.to_vec(),
            more: i < last,
        })
        .collect()
}

/// Puts chunked entries back together into an archive, at most
/// [`MAX_API_ARCHIVE_BYTES`] in all.
#[derive(Default)]
pub struct EntryCollector {
    current: Option<(String, Vec<u8>)>,
    total: u64,
}

impl EntryCollector {
    pub fn push(
        &mut self,
        archive: &mut Archive,
        entry: pb::ArchiveEntry,
    ) -> Result<(), TransferError> {
        self.total += entry.data.len() as u64;
        if self.total > MAX_API_ARCHIVE_BYTES {
            return Err(TransferError::Refused(format!(
                "the archive holds more than {MAX_API_ARCHIVE_BYTES} bytes, the most the API moves (use the CLI)"
            )));
        }
        let (name, mut content) = match self.current.take() {
            Some((name, content)) if name == entry.name => (name, content),
            Some((name, _)) => {
                return Err(TransferError::Damaged(format!("{name} was cut short")));
            }
            None => (entry.name, Vec::new()),
        };
        content.extend_from_slice(&entry.data);
        if entry.more {
            self.current = Some((name, content));
        } else {
            archive.put(&name, content);
        }
        Ok(())
    }

    /// Whether every entry begun was finished.
    pub fn finish(self) -> Result<(), TransferError> {
        match self.current {
            Some((name, _)) => Err(TransferError::Damaged(format!("{name} was cut short"))),
            None => Ok(()),
        }
    }
}

/// Reads a service's part of an import: its header, then its entries.
pub async fn receive_part(
    mut stream: tonic::Streaming<pb::ImportPartRequest>,
) -> Result<(pb::ImportPartHeader, Archive), tonic::Status> {
    use pb::import_part_request::Part;
    let header = match stream.message().await? {
        Some(pb::ImportPartRequest {
            part: Some(Part::Header(header)),
        }) => header,
        _ => {
            return Err(tonic::Status::invalid_argument(
                "an import part starts with its header",
            ));
        }
    };
    let mut archive = Archive::new(&header.source_tenant, "");
    let mut collector = EntryCollector::default();
    while let Some(message) = stream.message().await? {
        match message.part {
            Some(Part::Entry(entry)) => collector
                .push(&mut archive, entry)
                .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?,
            _ => {
                return Err(tonic::Status::invalid_argument(
                    "one header per import part",
                ));
            }
        }
    }
    collector
        .finish()
        .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
    Ok((header, archive))
}

/// A service's part of an import as a stream: the header, then the
/// archive's entries under `prefixes`, each cut into chunks as it is sent
/// (no second copy of the archive).
pub fn part_stream(
    archive: std::sync::Arc<Archive>,
    header: pb::ImportPartHeader,
    prefixes: &'static [&'static str],
) -> impl futures::Stream<Item = pb::ImportPartRequest> + Send + 'static {
    use futures::StreamExt;
    use pb::import_part_request::Part;
    let names: Vec<String> = archive
        .entries
        .keys()
        .filter(|name| prefixes.iter().any(|p| name.starts_with(p)))
        .cloned()
        .collect();
    let header = futures::stream::iter([pb::ImportPartRequest {
        part: Some(Part::Header(header)),
    }]);
    let entries = futures::stream::iter(names).flat_map(move |name| {
        let content = archive
            .entries
            .get(&name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        futures::stream::iter(chunks(&name, content).into_iter().map(|entry| {
            pb::ImportPartRequest {
                part: Some(Part::Entry(entry)),
            }
        }))
    });
    header.chain(entries)
}

/// A failure of a part's export or import, as the operator reads it.
/// The transfer key of a part call (base64 of 32 bytes); none when empty.
pub fn transfer_key_of(text: &str) -> Result<Option<crate::crypto::SecretBox>, tonic::Status> {
    if text.is_empty() {
        return Ok(None);
    }
    crate::crypto::SecretBox::new(text)
        .map(Some)
        .map_err(|_| tonic::Status::invalid_argument("the transfer key must be base64 of 32 bytes"))
}

pub fn part_status(err: Box<dyn std::error::Error + Send + Sync>) -> tonic::Status {
    tonic::Status::failed_precondition(err.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Replaces, in `text`, every UUID that `ids` maps with its new value (an
/// execution's id inside its outputs, file URIs and trigger data).
pub fn remap_ids(text: &str, ids: &std::collections::HashMap<String, String>) -> String {
    const LEN: usize = 36;
    if ids.is_empty() || text.len() < LEN {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i + LEN <= bytes.len() {
        if looks_like_uuid(&bytes[i..i + LEN])
            && let Some(new) = ids.get(&text[i..i + LEN])
        {
            out.push_str(&text[copied..i]);
            out.push_str(new);
            i += LEN;
            copied = i;
            continue;
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

fn looks_like_uuid(window: &[u8]) -> bool {
    window.iter().enumerate().all(|(i, b)| match i {
        8 | 13 | 18 | 23 => *b == b'-',
        _ => b.is_ascii_hexdigit(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_round_trips_and_any_change_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.tar.zst");
        let mut archive = Archive::new("acme", "Acme");
        archive
            .put_rows("flow/flows.jsonl", &[serde_json::json!({"id": 1})])
            .unwrap();
        archive.put("storage/a/b.txt", b"file".to_vec());
        archive.write_to(&path).unwrap();
        let read = Archive::read_from(&path).unwrap();
        assert_eq!(read.manifest.tenant, "acme");
        let rows: Vec<serde_json::Value> = read.rows("flow/flows.jsonl").unwrap();
        assert_eq!(rows, [serde_json::json!({"id": 1})]);
        assert_eq!(
            read.under("storage/").collect::<Vec<_>>(),
            [("a/b.txt", &b"file"[..])]
        );

        // A flipped byte anywhere: refused.
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
        assert!(Archive::read_from(&path).is_err());
        std::fs::write(&path, b"not an archive").unwrap();
        assert!(matches!(
            Archive::read_from(&path),
            Err(TransferError::Damaged(_))
        ));
    }

    #[test]
    fn a_small_archive_that_holds_much_is_refused_before_it_is_read() {
        let mut archive = Archive::new("acme", "Acme");
        archive.put("storage/zeros", vec![0; 4 << 20]);
        let bytes = archive.to_bytes().unwrap();
        assert!(bytes.len() < 1 << 20, "it compresses well");
        let err = Archive::from_bytes(&bytes, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("more than 1048576 bytes"), "{err}");
        assert!(Archive::from_bytes(&bytes, 8 << 20).is_ok());
        // Chunks past the API's limit are refused as they come.
        let mut collector = EntryCollector::default();
        let mut target = Archive::new("acme", "");
        let big = chunks(
            "storage/zeros",
            &vec![0; (MAX_API_ARCHIVE_BYTES as usize) + 1],
        );
        let refused = big
            .into_iter()
            .try_for_each(|entry| collector.push(&mut target, entry));
        assert!(refused.is_err());
    }

    #[test]
    fn known_ids_are_replaced_wherever_they_appear() {
        let old = "0b6c1f6e-8a4e-4f5e-9d55-2f1f4d3c2b1a";
        let ids = [(old.to_owned(), "NEW".to_owned())].into_iter().collect();
        let text = format!(
            "kestra:///ns/f/executions/{old}/x and {old}, not 0b6c1f6e-8a4e-4f5e-9d55-2f1f4d3c2b1b"
        );
        assert_eq!(
            remap_ids(&text, &ids),
            "kestra:///ns/f/executions/NEW/x and NEW, not 0b6c1f6e-8a4e-4f5e-9d55-2f1f4d3c2b1b"
        );
    }
}
