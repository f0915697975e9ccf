//! API keys on the request path (SPEC §8): a key is looked up once in the store, then served
//! from memory. Its spend is what the store's writer knows (`sy_store::KeySpend`): the store's
//! figure — read again every second, so instances sharing a database see each other's charges
//! and deletions — plus what this instance has charged and not yet written. A finished request
//! counts there the moment it is handed to the writer, so the 402 check is immediate.
//!
//! With `[cluster]`, admission and spend also go through Redis (`LiveKey::admit`,
//! `charge_shared`): the higher of Redis's figure and the local one decides. Charges Redis did
//! not confirm are kept with their generation ids and sent again (idempotent there), so a
//! charge that timed out is never counted twice. When Redis has no counter for a key (new, or
//! Redis lost its data) it is seeded from the store read at that moment; seeing a new seed,
//! each instance sends again the charges of its records the store did not have then, and
//! every charge says since when its record is in the store — so the seed and the charges never
//! count one twice, nor miss one (`cluster/keys.rs`).

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use sy_api::ApiError;
use sy_store::{KeyRecord, Store, Stored, Writer};

use crate::cluster::{Admission, Charge, Charged, Cluster};
use crate::guard::{Guardrails, PeriodBook, TokenWindow};
use crate::state::Storage;

/// A read of the store on the request path (a key at risk of its limit while Redis is away)
/// may take this long before the local figure decides alone.
const STORE_CHECK: Duration = Duration::from_millis(250);
/// A seed leaves out the records stored this recently before it (ms): longer than a commit
/// takes to reach its writer, however loaded.
const SEED_RECENT_MS: u64 = 1_000;
/// Charges sent to Redis in one script call at most (after an outage many may wait).
const CHARGE_BATCH: usize = 500;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // the locks guard plain figures that every step leaves consistent
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Tokens reserved against a key's `tpm`: when (unix second), how many, and whether in
/// Redis's shared window or this instance's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reservation {
    pub at: i64,
    pub estimate: u64,
    pub shared: bool,
}

/// A charge Redis has not confirmed, and whether a send of it is under way.
#[derive(Debug)]
struct Unconfirmed {
    charge: Charge,
    sending: bool,
}

/// A key's settings, as last read from the store (a `PATCH` on any instance reaches every
/// instance with the next refresh).
#[derive(Debug, Clone)]
pub struct Settings {
    pub label: String,
    pub limit: Option<f64>,
    /// Requests per minute, when the key has a rate limit.
    pub rpm: Option<u32>,
    pub guard: Arc<Guardrails>,
    pub team: Option<String>,
    pub updated_at: Option<i64>,
    rate: Option<Arc<DefaultDirectRateLimiter>>,
}

impl Settings {
    fn from_record(r: &KeyRecord) -> Settings {
        let rate = r
            .rpm
            .and_then(NonZeroU32::new)
            .map(|n| Arc::new(RateLimiter::direct(Quota::per_minute(n))));
        Settings {
            label: r.label.clone(),
            limit: r.limit,
            rpm: r.rpm,
            guard: Arc::new(Guardrails::parse_stored(r.guardrails.as_deref())),
            team: r.team.clone(),
            updated_at: r.updated_at,
            rate,
        }
    }
}

/// A key known to this instance.
#[derive(Debug)]
pub struct LiveKey {
    pub id: String,
    pub created_at: i64,
    settings: Mutex<Settings>,
    /// The key's spend per period as last read from the store.
    period: Mutex<PeriodBook>,
    /// Its tokens of the last minute (with a `tpm` guardrail).
    tokens: Mutex<TokenWindow>,
    /// The store's usage when the key was looked up: stands in while the writer has no figure.
    looked_up: f64,
    /// The writer keeping the key's spend; `None` without storage (tests).
    writer: Option<Writer>,
    store: Option<Store>,
    /// Redis's figure, as last answered.
    shared: Mutex<Option<f64>>,
    unconfirmed: Mutex<Vec<Unconfirmed>>,
    /// The `seeded_at` of Redis's counter as last seen: a new one means a new counter, which
    /// lacks this instance's charges of records the store did not have then.
    seen_seed: Mutex<Option<u64>>,
    /// Redis said the key was revoked.
    revoked: AtomicBool,
}

impl LiveKey {
    /// The key's settings now.
    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    pub fn label(&self) -> String {
        lock(&self.settings).label.clone()
    }

    pub fn limit(&self) -> Option<f64> {
        lock(&self.settings).limit
    }

    pub fn guard(&self) -> Arc<Guardrails> {
        Arc::clone(&lock(&self.settings).guard)
    }

    pub fn team(&self) -> Option<String> {
        lock(&self.settings).team.clone()
    }

    /// Takes the store's settings of the key (after a `PATCH` anywhere); the rate limiter is
    /// rebuilt only when the rate changed.
    pub fn update(&self, r: &KeyRecord) {
        let mut new = Settings::from_record(r);
        let mut s = lock(&self.settings);
        if s.rpm == new.rpm {
            new.rate = s.rate.take();
        }
        *s = new;
    }

    /// The store's figures of the key's spend per period, read at `starts` with the store's
    /// total `base_total`.
    pub fn set_period(&self, book: PeriodBook) {
        *lock(&self.period) = book;
    }

    pub fn period_book(&self) -> PeriodBook {
        *lock(&self.period)
    }

    /// The spend of the current day, week and month at `now` (unix seconds).
    pub fn period_usage(&self, now: i64) -> [f64; 3] {
        self.period_book().at(now, self.usage())
    }

    /// What the key's total spend has grown since the store's figures were read.
    pub fn grown(&self) -> f64 {
        (self.usage() - self.period_book().base_total).max(0.0)
    }

    /// 401 once the key has expired.
    pub fn check_expiry(&self, now: i64) -> Result<(), ApiError> {
        match self.guard().expires_at {
            Some(at) if now >= at => Err(ApiError::new(
                401,
                format!(
                    "key `{}` expired at {}",
                    self.label(),
                    crate::handlers::views::rfc3339(at)
                ),
            )
            .with("key_id", self.id.clone().into())
            .with("guardrail", "expires_at".into())),
            _ => Ok(()),
        }
    }

    /// Reserves a request's estimated tokens against the key's `tpm` at `now`: 429 when the
    /// minute's tokens and the estimate exceed it (and at once when the estimate alone does).
    /// With `[cluster]` the minute is shared through Redis; while Redis is away, this
    /// instance's own window decides. The reservation, to settle when the request ends.
    pub async fn reserve_tokens(
        &self,
        cluster: Option<&Cluster>,
        now: i64,
        estimate: u64,
    ) -> Result<Option<Reservation>, ApiError> {
        let Some(tpm) = self.guard().tpm else {
            return Ok(None);
        };
        let over = |wait_s: f64, why: &str| {
            ApiError::new(
                429,
                format!(
                    "key `{}` is over its limit of {tpm} tokens per minute ({why})",
                    self.label()
                ),
            )
            .with("key_id", self.id.clone().into())
            .with("guardrail", "tpm".into())
            .with("retry_after_s", serde_json::json!(wait_s))
        };
        if estimate > tpm {
            return Err(over(
                60.0,
                &format!("this request alone is estimated at {estimate} tokens"),
            ));
        }
        let busy = "the last minute's tokens and this request's estimate";
        if let Some(c) = cluster.filter(|c| c.up()) {
            match c.reserve_tokens(&self.id, estimate, tpm).await {
                Some(Ok(second)) => {
                    return Ok(Some(Reservation {
                        at: second,
                        estimate,
                        shared: true,
                    }))
                }
                Some(Err(wait)) => return Err(over(wait, busy)),
                None => {}
            }
        }
        lock(&self.tokens)
            .reserve(now, estimate, tpm)
            .map_err(|wait| over(wait, busy))?;
        Ok(Some(Reservation {
            at: now,
            estimate,
            shared: false,
        }))
    }

    /// Replaces a reservation by the tokens the request really used.
    pub fn settle_tokens(
        self: &Arc<Self>,
        cluster: Option<&Arc<Cluster>>,
        tasks: &tokio_util::task::TaskTracker,
        r: Reservation,
        actual: u64,
    ) {
        match cluster {
            Some(c) if r.shared => {
                let (k, c) = (Arc::clone(self), Arc::clone(c));
                tasks.spawn(async move { c.settle_tokens(&k.id, r.at, r.estimate, actual).await });
            }
            _ => lock(&self.tokens).settle(r.at, r.estimate, actual),
        }
    }

    /// What the key as far as this instance knows: the store's figure plus what this
    /// instance has not written yet, or Redis's figure when that is higher.
    pub fn usage(&self) -> f64 {
        let local = self.local_usage();
        lock(&self.shared).map_or(local, |s| s.max(local))
    }

    /// The store's figure plus this instance's unwritten charges.
    fn local_usage(&self) -> f64 {
        self.writer
            .as_ref()
            .and_then(|w| w.key_spend(&self.id))
            .map_or(self.looked_up, |s| s.total(self.looked_up))
    }

    /// This instance's charges of the key that the store does not have yet.
    pub fn unwritten(&self) -> f64 {
        self.writer
            .as_ref()
            .and_then(|w| w.key_spend(&self.id))
            .map_or(0.0, |s| s.unwritten)
    }

    /// Deleted: by Redis's word, or because the store no longer has it.
    pub fn revoked(&self) -> bool {
        self.revoked.load(Ordering::Relaxed)
            || self
                .writer
                .as_ref()
                .and_then(|w| w.key_spend(&self.id))
                .is_some_and(|s| s.deleted)
    }

    /// A key at its limit gets 402 before any upstream is called.
    pub fn check_limit(&self) -> Result<(), ApiError> {
        self.check_limit_at(self.usage())
    }

    /// `usage`: the key's total spend; with a `limit_reset`, the limit counts the spend of the
    /// current period only.
    fn check_limit_at(&self, usage: f64) -> Result<(), ApiError> {
        let s = self.settings();
        let reset = s.guard.limit_reset;
        let counted = self.period_book().counted(reset, unix_secs(), usage);
        match s.limit {
            Some(limit) if counted >= limit => {
                let period = reset.map_or(String::new(), |p| format!(" ({} reset)", p.as_str()));
                Err(ApiError::new(
                    402,
                    format!(
                        "key `{}` has reached its limit of {limit} USD{period}",
                        s.label
                    ),
                )
                .with("key_id", self.id.clone().into())
                .with("guardrail", "limit".into()))
            }
            _ => Ok(()),
        }
    }

    /// A key over its requests-per-minute limit gets 429 before any upstream is called
    /// (GCRA: the full minute's allowance may come as a burst, then one per 60/rpm seconds).
    pub fn check_rate(&self) -> Result<(), ApiError> {
        let Some(rate) = lock(&self.settings).rate.clone() else {
            return Ok(());
        };
        rate.check().map_err(|not_until| {
            self.over_rate(
                not_until
                    .wait_time_from(DefaultClock::default().now())
                    .as_secs_f64(),
            )
        })
    }

    /// The 429 of a key over its requests-per-minute limit, whoever counted (this instance or
    /// the cluster).
    fn over_rate(&self, wait_s: f64) -> ApiError {
        ApiError::new(
            429,
            format!(
                "key `{}` is over its limit of {} requests per minute",
                self.label(),
                lock(&self.settings).rpm.unwrap_or(0)
            ),
        )
        .with("key_id", self.id.clone().into())
        .with("guardrail", "rpm".into())
        .with("retry_after_s", serde_json::json!(wait_s))
    }

    fn set_shared(&self, usage: f64) {
        if usage.is_finite() {
            *lock(&self.shared) = Some(usage);
        }
    }

    /// Takes the cluster's figure of this key's spend, when Redis answers.
    pub async fn refresh(&self, cluster: &Cluster) {
        if let Some(u) = cluster.usage(&self.id).await {
            self.set_shared(u);
        }
    }

    /// Admission of a request (before any upstream call): refused when revoked; with
    /// `[cluster]`, the shared limit and rate through Redis; alone, or while Redis is away,
    /// this instance's figures — and, while Redis is away with a limit set, the store's
    /// figure read now, so that other instances' spend is not missed until the next refresh.
    pub async fn admit(&self, cluster: Option<&Cluster>) -> Result<(), ApiError> {
        if self.revoked() {
            return Err(unknown_key());
        }
        self.check_expiry(unix_secs())?;
        let s = self.settings();
        // Redis's counter is the total spend: a limit that resets is checked here, on the
        // period figures carried forward by that total
        let shared_limit = s.limit.filter(|_| s.guard.limit_reset.is_none());
        let mut verdict = match cluster {
            Some(c) if c.up() => c.admit(&self.id, shared_limit, s.rpm).await,
            _ => None,
        };
        if let (Some(Admission::Unseeded), Some(c)) = (verdict, cluster) {
            verdict = if self.seed(c).await? {
                // this instance's recent charges, which the seed leaves out, first
                self.flush_shared(c).await;
                c.admit(&self.id, shared_limit, s.rpm).await
            } else {
                None
            };
        }
        match verdict {
            None | Some(Admission::Unseeded) => {
                let usage = match cluster {
                    Some(_) if shared_limit.is_some() => {
                        self.usage().max(self.store_usage().await?)
                    }
                    _ => self.usage(),
                };
                self.check_limit_at(usage)?;
                self.check_rate()
            }
            Some(
                Admission::Admitted { usage, seeded_at } | Admission::AtLimit { usage, seeded_at },
            ) => {
                self.set_shared(usage);
                // a counter new to this instance lacks its recent charges: send them before
                // deciding, so that this admission already counts them
                if let (true, Some(c)) = (self.note_seed(seeded_at), cluster) {
                    self.flush_shared(c).await;
                }
                self.check_limit()
            }
            Some(Admission::RateLimited { wait_s }) => Err(self.over_rate(wait_s)),
            Some(Admission::Revoked) => {
                self.revoked.store(true, Ordering::Relaxed);
                Err(unknown_key())
            }
        }
    }

    /// Seeds Redis's counter for this key from the store's figure, read now: true once there
    /// is a counter; false when the store or Redis did not answer (local figures decide
    /// meanwhile). What the store did not have at the time is sent as charges afterwards, by
    /// every instance that made them (`note_seed`).
    async fn seed(&self, cluster: &Cluster) -> Result<bool, ApiError> {
        let (Some(store), Some(writer)) = (&self.store, &self.writer) else {
            return Ok(false);
        };
        // the seed leaves out the last second's records (by the database's clock): their
        // commits may not have been seen by their writers yet, so those instances send them
        // again, each counted once, rather than the seed and the charge both counting them
        let (stored, read_at) = match tokio::time::timeout(
            STORE_CHECK,
            store.key_usage_before(&self.id, SEED_RECENT_MS),
        )
        .await
        {
            Ok(Ok(Some(found))) => found,
            Ok(Ok(None)) => {
                writer.key_deleted(&self.id);
                return Err(unknown_key());
            }
            _ => return Ok(false),
        };
        match cluster.seed(&self.id, stored, read_at).await {
            Some((usage, seeded_at)) => {
                self.set_shared(usage);
                self.note_seed(seeded_at);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Looks at Redis's counter for a new seed, when this instance charged the key recently:
    /// an instance with no traffic for the key still sends what the new counter lacks.
    pub async fn check_seed(&self, cluster: &Cluster) {
        if !self
            .writer
            .as_ref()
            .is_some_and(|w| w.charged_recently(&self.id))
        {
            return;
        }
        if let Some(Some(seeded_at)) = cluster.seeded_at(&self.id).await {
            self.note_seed(seeded_at);
        }
    }

    /// A counter seeded at `seeded_at` that this instance has not seen before lacks this
    /// instance's charges of records the store did not have at that time: queue them (again;
    /// those Redis has counted are skipped by their markers).
    /// True when the seed was new to this instance.
    fn note_seed(&self, seeded_at: u64) -> bool {
        let Some(writer) = &self.writer else {
            return false;
        };
        {
            let mut seen = lock(&self.seen_seed);
            if *seen == Some(seeded_at) {
                return false;
            }
            *seen = Some(seeded_at);
        }
        let missing = writer.stored_after(&self.id, seeded_at);
        let mut list = lock(&self.unconfirmed);
        let queued: HashSet<String> = list.iter().map(|u| u.charge.gen_id.clone()).collect();
        for (gen_id, cost, stored_ms) in missing {
            if cost > 0.0 && !queued.contains(&gen_id) {
                list.push(Unconfirmed {
                    charge: Charge {
                        gen_id,
                        cost,
                        stored_ms,
                    },
                    sending: false,
                });
            }
        }
        true
    }

    /// Notes, for each unconfirmed charge, when its record reached the store.
    pub fn stamp_stored(&self) {
        let Some(writer) = &self.writer else {
            return;
        };
        for u in lock(&self.unconfirmed).iter_mut() {
            if u.charge.stored_ms == 0 {
                if let Stored::Since(ms) = writer.stored(&u.charge.gen_id) {
                    u.charge.stored_ms = ms;
                }
            }
        }
    }

    /// The store's figure now plus this instance's unwritten charges (taken first, so a batch
    /// committing meanwhile is counted twice rather than missed); this instance's own figure
    /// when the store does not answer in time. A key gone from the store is refused.
    async fn store_usage(&self) -> Result<f64, ApiError> {
        let (Some(store), Some(writer)) = (&self.store, &self.writer) else {
            return Ok(self.usage());
        };
        let unwritten = writer.key_spend(&self.id).map_or(0.0, |s| s.unwritten);
        match tokio::time::timeout(STORE_CHECK, store.key(&self.id)).await {
            Ok(Ok(Some(k))) => Ok(k.usage + unwritten),
            Ok(Ok(None)) => {
                writer.key_deleted(&self.id);
                Err(unknown_key())
            }
            _ => Ok(self.usage()),
        }
    }

    /// Sends a finished request's cost to the cluster's shared counter, with every charge
    /// Redis has not confirmed before; the ones it does not confirm now wait for the next try.
    pub async fn charge_shared(&self, cluster: &Cluster, gen_id: &str, cost: f64) {
        if cost.is_finite() && cost > 0.0 {
            lock(&self.unconfirmed).push(Unconfirmed {
                charge: Charge {
                    gen_id: gen_id.to_owned(),
                    cost,
                    stored_ms: 0,
                },
                sending: false,
            });
        }
        self.flush_shared(cluster).await;
    }

    /// Sends the charges waiting for Redis, if any, a bounded batch at a time (seeding the
    /// counter first when Redis has none).
    pub async fn flush_shared(&self, cluster: &Cluster) {
        let mut seeded = false;
        loop {
            self.stamp_stored();
            let batch: Vec<Charge> = {
                let mut list = lock(&self.unconfirmed);
                list.iter_mut()
                    .filter(|u| !u.sending)
                    .take(CHARGE_BATCH)
                    .map(|u| {
                        u.sending = true;
                        u.charge.clone()
                    })
                    .collect()
            };
            if batch.is_empty() {
                return;
            }
            let reply = cluster.charge(&self.id, &batch).await;
            {
                let sent: HashSet<&str> = batch.iter().map(|c| c.gen_id.as_str()).collect();
                let mut list = lock(&self.unconfirmed);
                if let Some(Charged::Total { .. }) = reply {
                    list.retain(|u| !sent.contains(u.charge.gen_id.as_str()));
                } else {
                    list.iter_mut()
                        .filter(|u| sent.contains(u.charge.gen_id.as_str()))
                        .for_each(|u| u.sending = false);
                }
            }
            match reply {
                Some(Charged::Total { usage, seeded_at }) => {
                    self.set_shared(usage);
                    self.note_seed(seeded_at);
                }
                Some(Charged::Unseeded)
                    if !seeded && matches!(self.seed(cluster).await, Ok(true)) =>
                {
                    seeded = true;
                }
                _ => return,
            }
        }
    }

    /// Charges waiting for Redis.
    pub fn unconfirmed(&self) -> usize {
        lock(&self.unconfirmed).len()
    }

    /// The key as `/key`, the key listing and the dashboard show it: spend in total and per
    /// period, what is left of its limit (in its period), and its guardrails.
    pub fn json(&self) -> serde_json::Value {
        let usage = self.usage();
        let s = self.settings();
        let now = unix_secs();
        let book = self.period_book();
        let [daily, weekly, monthly] = book.at(now, usage);
        let counted = book.counted(s.guard.limit_reset, now, usage);
        let remaining = s.limit.map(|l| (l - counted).max(0.0));
        let mut o = serde_json::json!({
            "id": self.id,
            "hash": self.id,
            "label": s.label,
            "name": s.label,
            "usage": usage,
            "usage_daily": daily,
            "usage_weekly": weekly,
            "usage_monthly": monthly,
            "limit": s.limit,
            "remaining": remaining,
            "limit_remaining": remaining,
            "rpm": s.rpm,
            "team": s.team,
            "disabled": false,
            "created_at": crate::handlers::views::rfc3339(self.created_at),
            "updated_at": s.updated_at.map(crate::handlers::views::rfc3339),
        });
        crate::handlers::views::byok_none(&mut o);
        if let Some(m) = o.as_object_mut() {
            m.extend(s.guard.json());
        }
        o
    }
}

/// Now, in unix seconds.
pub fn unix_secs() -> i64 {
    i64::try_from(crate::handlers::dialect::unix_now()).unwrap_or(i64::MAX)
}

pub fn unknown_key() -> ApiError {
    ApiError::new(401, "unknown API key")
}

/// Keys by the SHA-256 of their secret (the secret itself is never kept).
#[derive(Default)]
pub struct KeyCache {
    by_hash: Mutex<HashMap<String, Arc<LiveKey>>>,
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl KeyCache {
    /// The key with this secret, from memory or the store. None: unknown (or deleted) key.
    pub async fn lookup(
        &self,
        storage: &Storage,
        secret: &str,
    ) -> Result<Option<Arc<LiveKey>>, ApiError> {
        let h = hash(secret);
        let cached = lock(&self.by_hash).get(&h).cloned();
        if let Some(k) = cached {
            if !k.revoked() {
                return Ok(Some(k));
            }
            // deleted since: forget it, and ask the store again (it says unknown)
            self.forget(&k.id, &storage.writer);
        }
        let rec = storage.store.key_by_secret(secret).await.map_err(|e| {
            tracing::error!(error = %e, "key lookup failed");
            ApiError::new(503, "the key store is unavailable; try again shortly")
        })?;
        let Some(r) = rec else {
            return Ok(None);
        };
        // the key's spend per period, once (the refresh keeps it current from then on)
        let now = unix_secs();
        let starts = crate::guard::period_starts(now);
        let since = match tokio::time::timeout(
            STORE_CHECK,
            storage
                .store
                .key_spend_since(std::slice::from_ref(&r.id), starts),
        )
        .await
        {
            Ok(Ok(m)) => m.get(&r.id).copied().unwrap_or_default(),
            // unknown for now: the total stands in (conservative) until the next refresh
            _ => [r.usage; 3],
        };
        let book = PeriodBook {
            starts,
            since,
            base_total: r.usage,
        };
        storage.writer.watch_key(&r.id, r.usage);
        let mut map = lock(&self.by_hash);
        Ok(Some(Arc::clone(map.entry(h).or_insert_with(|| {
            let k = live(r, storage);
            k.set_period(book);
            Arc::new(k)
        }))))
    }

    /// Forgets a key (deleted) at once.
    pub fn forget(&self, id: &str, writer: &Writer) {
        lock(&self.by_hash).retain(|_, k| k.id != id);
        writer.unwatch_key(id);
    }

    /// The live usage of a key this instance knows, if any (fresher than the store's).
    pub fn live_usage(&self, id: &str) -> Option<f64> {
        let map = lock(&self.by_hash);
        map.values().find(|k| k.id == id).map(|k| k.usage())
    }

    /// The key with this id, if in memory.
    pub fn by_id(&self, id: &str) -> Option<Arc<LiveKey>> {
        let map = lock(&self.by_hash);
        map.values().find(|k| k.id == id).cloned()
    }

    /// Every key in memory.
    pub fn all(&self) -> Vec<Arc<LiveKey>> {
        lock(&self.by_hash).values().cloned().collect()
    }
}

fn live(r: KeyRecord, storage: &Storage) -> LiveKey {
    LiveKey {
        settings: Mutex::new(Settings::from_record(&r)),
        period: Mutex::new(PeriodBook::default()),
        tokens: Mutex::new(TokenWindow::default()),
        id: r.id,
        created_at: r.created_at,
        looked_up: r.usage,
        writer: Some(storage.writer.clone()),
        store: Some(storage.store.clone()),
        shared: Mutex::new(None),
        unconfirmed: Mutex::new(Vec::new()),
        seen_seed: Mutex::new(None),
        revoked: AtomicBool::new(false),
    }
}

/// Refreshes of the keys' guardrails so far.
static REFRESHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// The spend per period of keys without a resetting limit is read every this many refreshes.
const PERIODS_EVERY: u64 = 10;

/// A refresh of the keys' settings, periods and teams may take this long.
const GUARD_REFRESH: Duration = Duration::from_millis(1_000);

/// Reads again, for every key in memory, its settings (a `PATCH` on any instance), its spend
/// per period, and its team's limit and spend — so every instance sharing the store enforces
/// a change within a second.
async fn refresh_guardrails(state: &crate::AppState, storage: &Storage) {
    let keys = state.keys.all();
    if keys.is_empty() {
        return;
    }
    let now = unix_secs();
    let starts = crate::guard::period_starts(now);
    let ids: Vec<String> = keys.iter().map(|k| k.id.clone()).collect();
    let Ok(records) = storage.store.keys_by_ids(&ids).await else {
        return;
    };
    // spend per period sums records: every time for the keys whose limit resets, every
    // `PERIODS_EVERY` refreshes for the others (only shown; their figures meanwhile carry
    // forward from the last read by the key's total spend)
    let all_periods = REFRESHES
        .fetch_add(1, Ordering::Relaxed)
        .is_multiple_of(PERIODS_EVERY);
    let period_ids: Vec<String> = keys
        .iter()
        .filter(|k| all_periods || k.guard().limit_reset.is_some())
        .map(|k| k.id.clone())
        .collect();
    let spend = if period_ids.is_empty() {
        HashMap::new()
    } else {
        match storage.store.key_spend_since(&period_ids, starts).await {
            Ok(s) => s,
            Err(_) => return,
        }
    };
    let by_id: HashMap<&str, &KeyRecord> = records.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut teams: Vec<String> = Vec::new();
    for k in &keys {
        let Some(r) = by_id.get(k.id.as_str()) else {
            continue;
        };
        k.update(r);
        if period_ids.contains(&k.id) {
            k.set_period(PeriodBook {
                starts,
                since: spend.get(&k.id).copied().unwrap_or_default(),
                base_total: r.usage,
            });
        }
        if let Some(t) = &r.team {
            if !teams.contains(t) {
                teams.push(t.clone());
            }
        }
    }
    if let Some(found) = crate::teams::read(&storage.store, &teams, now).await {
        state.teams.set(&teams, found);
    }
}

/// Background upkeep of the keys (every half second): forgets deleted ones, notes when the
/// records of unconfirmed charges reached the store, and while Redis answers, notices a
/// counter seeded anew and sends the charges and revocations it did not confirm before.
pub async fn maintain(state: Arc<crate::AppState>, stop: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Some(storage) = &state.storage else {
            continue;
        };
        for k in state.keys.all() {
            if k.revoked() {
                state.keys.forget(&k.id, &storage.writer);
            }
            // while the store still remembers when each record got there (a minute)
            k.stamp_stored();
        }
        // bounded: a slow store must not hold up the charges below
        if tokio::time::timeout(GUARD_REFRESH, refresh_guardrails(&state, storage))
            .await
            .is_err()
        {
            tracing::debug!("the store did not answer the guardrails' refresh in time");
        }
        if let Some(c) = state.cluster.as_ref().filter(|c| c.up()) {
            c.retry_revocations().await;
            for k in state.keys.all() {
                k.check_seed(c).await;
                if k.unconfirmed() > 0 {
                    k.flush_shared(c).await;
                }
            }
        }
    }
}
