//! The local journal: finished requests the store has not confirmed yet, on local disk, so that
//! neither a slow or absent database nor a `kill -9` loses a charge (SPEC §8).
//!
//! A directory of append-only segment files, `NNNNNNNNNNNNNNNNNNNN.jsonl`, each line one
//! [`Generation`] as JSON preceded by a checksum: `<16 hex digits> <json>\n`, the digits being
//! the first 8 bytes of the SHA-256 of the JSON. Appends are batched and made durable
//! (`fdatasync`, and the directory synced when a segment is created) before they count. A line
//! whose checksum does not match — the torn tail of a write cut by a crash — is skipped on
//! replay; nothing is ever appended after such a tail, because every start (and every failed
//! append, which is truncated back) continues in a fresh or clean segment.
//!
//! The journal only does file IO, blocking: callers run it off the async runtime. Which of its
//! records are still needed is the writer's knowledge (`writer.rs`): it removes a segment once
//! every record in it is in the store. A lock file (`lock`, held with an exclusive `flock`)
//! keeps two processes from sharing one directory.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::generation::Generation;

/// A segment is closed once it holds this much; the next append opens another, so fully
/// written-out segments can be removed while the journal keeps growing.
const SEGMENT_BYTES: u64 = 8 * 1024 * 1024;
const EXTENSION: &str = "jsonl";

/// Where and how big the journal may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalConfig {
    /// Created if missing.
    pub dir: PathBuf,
    /// The journal refuses appends that would take it past this many bytes (the gateway then
    /// refuses new requests); a full disk does the same.
    pub max_bytes: u64,
}

/// What went wrong with the journal. Paths are the operator's own and are shown; nothing here
/// carries a record's content.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("journal directory {path} is in use by another process")]
    Locked { path: PathBuf },
    #[error("journal full: {max_bytes} bytes ([storage] journal_max_bytes)")]
    Full { max_bytes: u64 },
    #[error("journal record at {path}:{offset} is damaged")]
    Damaged { path: PathBuf, offset: u64 },
}

impl JournalError {
    /// A bounded label for metrics and logs.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            JournalError::Io { source, .. } if is_disk_full(source) => "disk_full",
            JournalError::Io { .. } => "io",
            JournalError::Locked { .. } => "locked",
            JournalError::Full { .. } => "full",
            JournalError::Damaged { .. } => "damaged",
        }
    }
}

fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// Where one record lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub seg: u64,
    pub offset: u64,
    pub len: u32,
}

/// A record found on disk at start-up: where it is and what it charges (the record itself is
/// read again when it is written to the store, so start-up holds no record text in memory).
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub loc: Loc,
    pub id: String,
    pub key_id: Option<String>,
    pub cost: f64,
}

pub(crate) struct Journal {
    dir: PathBuf,
    /// Held (with its `flock`) for as long as the journal is open.
    _lock: File,
    /// Size in bytes of every segment on disk.
    sizes: BTreeMap<u64, u64>,
    current: Option<(u64, File)>,
    next_seg: u64,
    max_bytes: u64,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> JournalError {
    let path = path.to_owned();
    move |source| JournalError::Io {
        action,
        path,
        source,
    }
}

fn segment_path(dir: &Path, seg: u64) -> PathBuf {
    dir.join(format!("{seg:020}.{EXTENSION}"))
}

fn checksum(json: &[u8]) -> String {
    hex::encode(&Sha256::digest(json)[..8])
}

/// One record as its journal line.
fn line(rec: &Generation) -> Vec<u8> {
    // Serialising these plain fields cannot fail; an empty object would only be skipped.
    let json = serde_json::to_vec(rec).unwrap_or_default();
    let mut out = Vec::with_capacity(json.len() + 18);
    out.extend_from_slice(checksum(&json).as_bytes());
    out.push(b' ');
    out.extend_from_slice(&json);
    out.push(b'\n');
    out
}

/// A line back to its record, if it is whole and its checksum matches.
fn parse(line: &[u8]) -> Option<Generation> {
    let line = line.strip_suffix(b"\n")?;
    let (sum, json) = (line.get(..16)?, line.get(17..)?);
    if line.get(16) != Some(&b' ') || checksum(json).as_bytes() != sum {
        return None;
    }
    serde_json::from_slice(json).ok()
}

impl Journal {
    /// Opens (creating) the directory, takes its lock, and lists the records a previous run
    /// left: every whole line of every segment. Also returns how many damaged lines were
    /// skipped. Appends go to a new segment.
    pub fn open(cfg: &JournalConfig) -> Result<(Journal, Vec<Found>, usize), JournalError> {
        let dir = cfg.dir.clone();
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("open", &lock_path))?;
        if lock.try_lock().is_err() {
            return Err(JournalError::Locked { path: dir });
        }
        let mut segs: Vec<u64> = std::fs::read_dir(&dir)
            .map_err(io("list", &dir))?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                let name = name.to_str()?;
                name.strip_suffix(&format!(".{EXTENSION}"))?.parse().ok()
            })
            .collect();
        segs.sort_unstable();
        let mut found = Vec::new();
        let mut damaged = 0;
        let mut sizes = BTreeMap::new();
        for &seg in &segs {
            let path = segment_path(&dir, seg);
            let file = File::open(&path).map_err(io("open", &path))?;
            let mut reader = BufReader::new(file);
            let mut offset = 0_u64;
            let mut buf = Vec::new();
            loop {
                buf.clear();
                let n = reader
                    .read_until(b'\n', &mut buf)
                    .map_err(io("read", &path))?;
                if n == 0 {
                    break;
                }
                match (parse(&buf), u32::try_from(n)) {
                    (Some(rec), Ok(len)) => found.push(Found {
                        loc: Loc { seg, offset, len },
                        id: rec.id,
                        key_id: rec.key_id,
                        cost: rec.cost,
                    }),
                    _ => damaged += 1,
                }
                offset += n as u64;
            }
            sizes.insert(seg, offset);
        }
        let next_seg = segs.last().map_or(1, |s| s + 1);
        let journal = Journal {
            dir,
            _lock: lock,
            sizes,
            current: None,
            next_seg,
            max_bytes: cfg.max_bytes,
        };
        Ok((journal, found, damaged))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes on disk, all segments together.
    pub fn bytes(&self) -> u64 {
        self.sizes.values().sum()
    }

    /// Every segment on disk, oldest first.
    pub fn segments(&self) -> Vec<u64> {
        self.sizes.keys().copied().collect()
    }

    pub fn current(&self) -> Option<u64> {
        self.current.as_ref().map(|(seg, _)| *seg)
    }

    /// Appends records and makes them durable; where each landed, in order. All or nothing:
    /// a failed append is cut back off the segment.
    pub fn append(&mut self, recs: &[&Generation]) -> Result<Vec<Loc>, JournalError> {
        let mut buf = Vec::new();
        let mut spans = Vec::with_capacity(recs.len());
        for rec in recs {
            let l = line(rec);
            spans.push((buf.len() as u64, u32::try_from(l.len()).unwrap_or(u32::MAX)));
            buf.extend_from_slice(&l);
        }
        if self.bytes() + buf.len() as u64 > self.max_bytes {
            return Err(JournalError::Full {
                max_bytes: self.max_bytes,
            });
        }
        let seg = self.open_current()?;
        let path = segment_path(&self.dir, seg);
        let start = self.sizes.get(&seg).copied().unwrap_or(0);
        let Some((_, file)) = self.current.as_mut() else {
            return Err(JournalError::Io {
                action: "open",
                path,
                source: std::io::Error::other("no open segment"),
            });
        };
        let written = file.write_all(&buf).and_then(|()| file.sync_data());
        if let Err(source) = written {
            // cut the partial write back off, so the next append does not follow a torn line
            let _ = file.set_len(start);
            let _ = file.seek(SeekFrom::Start(start));
            // and continue in a fresh segment should the cut itself have failed
            self.current = None;
            return Err(JournalError::Io {
                action: "write",
                path,
                source,
            });
        }
        let end = start + buf.len() as u64;
        self.sizes.insert(seg, end);
        if end >= SEGMENT_BYTES {
            self.current = None;
        }
        Ok(spans
            .into_iter()
            .map(|(at, len)| Loc {
                seg,
                offset: start + at,
                len,
            })
            .collect())
    }

    /// The segment appends go to, created (and the directory synced) when there is none.
    fn open_current(&mut self) -> Result<u64, JournalError> {
        if let Some((seg, _)) = &self.current {
            return Ok(*seg);
        }
        let seg = self.next_seg;
        let path = segment_path(&self.dir, seg);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io("create", &path))?;
        // the new file's name must survive a crash as well as its contents
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io("sync", &self.dir))?;
        self.next_seg += 1;
        self.sizes.insert(seg, 0);
        self.current = Some((seg, file));
        Ok(seg)
    }

    /// Deletes a segment whose records are all in the store (closing it first when it is the
    /// one appends go to).
    pub fn remove(&mut self, seg: u64) -> Result<(), JournalError> {
        if self.current() == Some(seg) {
            self.current = None;
        }
        let path = segment_path(&self.dir, seg);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("remove", &path)(e)),
        }
        self.sizes.remove(&seg);
        Ok(())
    }
}

/// Reads records back (any thread; appends to other offsets may run meanwhile). Each is the
/// record, or why it could not be read — damaged on disk, or an IO error worth retrying.
pub(crate) fn read(dir: &Path, locs: &[Loc]) -> Vec<Result<Generation, JournalError>> {
    let mut open: Option<(u64, File)> = None;
    locs.iter()
        .map(|loc| {
            let path = segment_path(dir, loc.seg);
            if open.as_ref().is_none_or(|(seg, _)| *seg != loc.seg) {
                open = Some((loc.seg, File::open(&path).map_err(io("open", &path))?));
            }
            let Some((_, file)) = open.as_ref() else {
                return Err(JournalError::Damaged {
                    path,
                    offset: loc.offset,
                });
            };
            let mut buf = vec![0; loc.len as usize];
            file.read_exact_at(&mut buf, loc.offset)
                .map_err(io("read", &path))?;
            parse(&buf).ok_or(JournalError::Damaged {
                path,
                offset: loc.offset,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str) -> Generation {
        Generation {
            id: id.to_owned(),
            key_id: Some("key_a".to_owned()),
            created_at: 1,
            cost: 0.25,
            record: r#"{"id":"x","text":"line\nbreak"}"#.to_owned(),
        }
    }

    #[test]
    fn a_line_round_trips_and_a_changed_byte_is_refused() {
        let l = line(&rec("gen-1"));
        assert_eq!(l.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
        assert_eq!(parse(&l), Some(rec("gen-1")));
        let mut bad = l.clone();
        let i = bad.len() - 5;
        bad[i] ^= 1;
        assert_eq!(parse(&bad), None);
        assert_eq!(parse(&l[..l.len() - 1]), None, "a torn line has no newline");
        assert_eq!(parse(b"short\n"), None);
    }
}
