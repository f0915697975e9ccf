//! The writer's journal: records the store has not confirmed are on local disk within a
//! second; a crash (the writer's runtime dropped with everything running on it, as `kill -9`
//! drops a process) loses none of them; the next start writes them, each charged once — also
//! those the store already had; a torn tail is skipped; one directory serves one process; a
//! full disk keeps records in memory and stops accepting until it has room.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use sy_store::{JournalConfig, JournalError, Store, Writer, WriterConfig};

use crate::common::{self, eventually, eventually_async, generation, on_both, TestDb};

fn config(dir: &Path, capacity: usize, max_bytes: u64) -> WriterConfig {
    WriterConfig {
        capacity,
        journal: Some(JournalConfig {
            dir: dir.to_owned(),
            max_bytes,
        }),
    }
}

/// A store whose database is not there: every write fails.
async fn unreachable() -> Store {
    let port = common::closed_port().await;
    Store::connect_lazy(&format!("postgres://postgres@127.0.0.1:{port}/none")).unwrap()
}

/// Runs `body` on a runtime of its own, then drops that runtime with every task still on it
/// — no shutdown, no flush — the way `kill -9` ends a process (files written survive it, and
/// the journal's lock is released with the last task).
fn crash_after<F, Fut>(body: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(body());
        drop(rt);
    })
    .join()
    .unwrap();
}

/// Submits `n` records for `key` to a writer whose store is down, waits until they are on disk
/// (asserting it took less than a second), and crashes.
fn journal_then_crash(dir: &Path, key: &str, prefix: &str, n: usize) -> f64 {
    let (dir, key, prefix) = (dir.to_owned(), key.to_owned(), prefix.to_owned());
    let sum = (0..n).map(|i| 0.001 * (i % 5 + 1) as f64).sum();
    crash_after(move || async move {
        let writer = Writer::start_with(unreachable().await, config(&dir, 1000, 1 << 30)).unwrap();
        for i in 0..n {
            let cost = 0.001 * (i % 5 + 1) as f64;
            assert!(writer.submit(generation(&format!("{prefix}{i}"), Some(&key), cost)));
        }
        let submitted = Instant::now();
        eventually(Duration::from_secs(5), "records on disk", || {
            writer.status().journaled == n
        })
        .await;
        assert!(
            submitted.elapsed() < Duration::from_secs(1),
            "on disk only after {:?}",
            submitted.elapsed()
        );
        assert_eq!(writer.status().journaled_total, n as u64);
    });
    sum
}

async fn usage_of(db: &TestDb, key: &str) -> f64 {
    db.store.key(key).await.unwrap().unwrap().usage
}

on_both!(a_crash_loses_nothing_and_the_next_start_charges_each_record_once);

async fn a_crash_loses_nothing_and_the_next_start_charges_each_record_once(db: &TestDb) {
    let (key, _) = db.store.create_key("crash", None).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sum = journal_then_crash(dir.path(), &key.id, "gen-c", 120);
    // the store had some of them already: a commit that landed just before the crash
    for i in 0..10 {
        let rec = generation(
            &format!("gen-c{i}"),
            Some(&key.id),
            0.001 * (i % 5 + 1) as f64,
        );
        assert!(db.store.record(&rec).await.unwrap());
    }
    let writer = Writer::start_with(db.store.clone(), config(dir.path(), 50, 1 << 30)).unwrap();
    assert_eq!(writer.status().replayed_total, 120);
    // what the key owes is known before a single record is written
    let owed = writer.key_spend(&key.id).unwrap().unwritten;
    assert!((owed - sum).abs() < 1e-9, "{owed} != {sum}");
    eventually(
        Duration::from_secs(20),
        "journal written to the store",
        || writer.backlog() == 0,
    )
    .await;
    for i in 0..120 {
        assert!(db
            .store
            .generation(&format!("gen-c{i}"))
            .await
            .unwrap()
            .is_some());
    }
    let usage = usage_of(db, &key.id).await;
    assert!((usage - sum).abs() <= 1e-9 * sum, "usage {usage} != {sum}");
    // every segment removed once its records are in the store
    eventually(Duration::from_secs(5), "segments trimmed", || {
        segments(dir.path()) == 0
    })
    .await;
    assert_eq!(writer.shutdown(Duration::from_secs(5)).await, 0);
    // a later start finds nothing to do
    let again = Writer::start_with(db.store.clone(), config(dir.path(), 50, 1 << 30)).unwrap();
    assert_eq!(again.status().replayed_total, 0);
    assert_eq!(again.shutdown(Duration::from_secs(5)).await, 0);
}

fn segments(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_torn_tail_is_skipped_and_the_rest_replayed() {
    let db = common::sqlite().await;
    let (key, _) = db.store.create_key("torn", None).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sum = journal_then_crash(dir.path(), &key.id, "gen-t", 20);
    // a write cut short by the crash: half a line, no newline
    let seg = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .unwrap()
        .path();
    let mut text = std::fs::read(&seg).unwrap();
    text.extend_from_slice(b"0123456789abcdef {\"id\":\"gen-torn\",\"key_i");
    std::fs::write(&seg, text).unwrap();
    let writer = Writer::start_with(db.store.clone(), config(dir.path(), 50, 1 << 30)).unwrap();
    assert_eq!(writer.status().replayed_total, 20);
    eventually(Duration::from_secs(20), "written", || writer.backlog() == 0).await;
    let usage = usage_of(&db, &key.id).await;
    assert!((usage - sum).abs() <= 1e-9 * sum, "usage {usage} != {sum}");
    assert!(db.store.generation("gen-torn").await.unwrap().is_none());
    assert_eq!(writer.shutdown(Duration::from_secs(5)).await, 0);
}

#[tokio::test]
async fn one_directory_serves_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let first = Writer::start_with(unreachable().await, config(dir.path(), 10, 1 << 20)).unwrap();
    let second = Writer::start_with(unreachable().await, config(dir.path(), 10, 1 << 20));
    assert!(
        matches!(second, Err(JournalError::Locked { .. })),
        "a second writer on the same journal"
    );
    let _ = first.shutdown(Duration::from_millis(100)).await;
}

/// Beyond the capacity, records go to disk only, and come back when the store does.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_beyond_the_capacity_wait_on_disk_only() {
    let Some(db) = common::postgres().await else {
        return;
    };
    let (key, _) = db.store.create_key("overflow", None).await.unwrap();
    let proxy = common::Proxy::start(common::postgres_addr()).await;
    let base = common::postgres_url_for(db.pg_name().unwrap());
    let port = format!(":{}/", common::postgres_addr().port());
    let url = base.replacen(&port, &format!(":{}/", proxy.port), 1);
    let dir = tempfile::tempdir().unwrap();
    let writer = Writer::start_with(
        Store::connect_lazy(&url).unwrap(),
        config(dir.path(), 10, 1 << 30),
    )
    .unwrap();
    let mut sum = 0.0;
    for i in 0..500 {
        let cost = 0.0001 * f64::from(i % 9 + 1);
        sum += cost;
        assert!(writer.submit(generation(&format!("gen-o{i}"), Some(&key.id), cost)));
    }
    eventually(Duration::from_secs(5), "overflow on disk", || {
        let s = writer.status();
        s.journal_only >= 490 && s.in_memory <= 10
    })
    .await;
    assert_eq!(writer.backlog(), 500);
    assert!(writer.accepting());
    proxy.enable();
    eventually_async(Duration::from_secs(30), "everything written", || async {
        writer.backlog() == 0
    })
    .await;
    let usage = usage_of(&db, &key.id).await;
    assert!((usage - sum).abs() <= 1e-9 * sum, "usage {usage} != {sum}");
    let status = writer.status();
    assert_eq!(status.written_total, 500);
    assert_eq!(status.dropped_total, 0);
    assert_eq!(writer.shutdown(Duration::from_secs(5)).await, 0);
}

/// A real full disk: a small tmpfs (needs root to mount; skipped otherwise, saying so).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_keeps_records_in_memory_and_stops_accepting() {
    let mount = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(mount.path())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("cannot mount a tmpfs (not root?): the full-disk test is skipped");
        return;
    }
    let _unmount = Unmount(mount.path().to_owned());
    let filler = mount.path().join("filler");
    // fill the disk to the last block
    let _ = std::fs::write(&filler, vec![0u8; 512 * 1024]);
    let db = common::sqlite().await;
    let (key, _) = db.store.create_key("full", None).await.unwrap();
    let dir = mount.path().join("journal");
    let writer = Writer::start_with(unreachable().await, config(&dir, 5, 1 << 30));
    let writer = writer.expect("a journal directory fits on a full tmpfs (no data blocks)");
    for i in 0..20 {
        assert!(writer.submit(generation(&format!("gen-f{i}"), Some(&key.id), 0.01)));
    }
    eventually(Duration::from_secs(5), "refusing", || !writer.accepting()).await;
    let status = writer.status();
    assert!(status.journal_error.is_some(), "{status:?}");
    assert_eq!(writer.backlog(), 20, "nothing dropped");
    assert_eq!(status.dropped_total, 0);
    std::fs::remove_file(&filler).unwrap();
    eventually(Duration::from_secs(5), "accepting again", || {
        writer.accepting() && writer.status().journaled == 20
    })
    .await;
    assert_eq!(writer.shutdown(Duration::from_millis(200)).await, 0);
}

struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        // lazily: the writer's last task may still hold the lock file for a moment
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}
