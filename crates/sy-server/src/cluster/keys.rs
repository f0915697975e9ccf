//! Key limits shared through Redis: one Lua script admits a request (revoked? spend at the
//! limit? requests-per-minute allowance left?) atomically; another adds finished requests'
//! costs, each at most once: a charge is idempotent per generation id (a marker set with NX
//! guards each addition), so a charge whose answer was lost — it timed out after Redis ran it
//! — is sent again with the same id and never counted twice.
//!
//! A key's counter is created (and, after Redis lost its data, created again) only by `seed`,
//! from the store's figure read at that moment, stamped with the wall-clock time taken just
//! before that read (`seeded_at`); the other scripts never create it: they answer "unseeded"
//! and the instance seeds first. Every reply carries `seeded_at`. An instance that sees a
//! `seeded_at` it has not seen before sends again the charges of that key's records the store
//! did not have at that time (not stored yet, or stored later); every charge says when its
//! record reached the store (0: not yet), and one the store had by `seeded_at` is in the seed
//! and skipped. So the rebuilt counter holds each charge once, whichever instance made it.
//! (Across hosts this relies on clocks agreeing to within the time a commit takes.)

use std::sync::LazyLock;

use redis::Script;

use super::Cluster;

/// KEYS[1] the key's hash, KEYS[2] its rate state. ARGV: limit ("" for none), requests per
/// minute (0 for none). Returns {code, value, seeded_at}: 0 admitted (usage), 1 at its limit
/// (usage), 2 over its rate (ms to wait), 3 revoked, 4 no counter yet (seed it, then ask
/// again). Rate: GCRA on Redis's clock, the minute's allowance as the burst.
static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], 'revoked') then return {3, '0', '0'} end
local usage = redis.call('HGET', KEYS[1], 'usage')
if not usage then return {4, '0', '0'} end
local seeded = redis.call('HGET', KEYS[1], 'seeded_at') or '0'
if ARGV[1] ~= '' and tonumber(usage) >= tonumber(ARGV[1]) then return {1, usage, seeded} end
local rpm = tonumber(ARGV[2])
if rpm > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local interval = 60000 / rpm
  local tat = tonumber(redis.call('GET', KEYS[2]) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  if new_tat - now > 60000 then return {2, tostring(new_tat - 60000 - now), seeded} end
  redis.call('SET', KEYS[2], tostring(new_tat), 'PX', math.ceil(new_tat - now))
end
return {0, usage, seeded}
",
    )
});

/// KEYS[1] the key's hash. ARGV[1] the usage, ARGV[2] when the store was read for it (ms since
/// the epoch, taken before the read). Creates the counter unless another instance just did;
/// returns {usage, seeded_at}.
static SEED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if not redis.call('HGET', KEYS[1], 'usage') then
  redis.call('HSET', KEYS[1], 'usage', ARGV[1], 'seeded_at', ARGV[2])
end
return {redis.call('HGET', KEYS[1], 'usage'), redis.call('HGET', KEYS[1], 'seeded_at') or '0'}
",
    )
});

/// KEYS[1] the key's hash, KEYS[2..] one marker per charge (`switchyard:charged:{gen id}`).
/// ARGV[1] the markers' lifetime in seconds, then two per charge, in the order of the markers:
/// its cost, and when its record was seen in the store (ms since the epoch; 0: not yet). A
/// charge whose marker exists was counted before; one whose record the store had when the
/// counter was seeded is in the seed: both are skipped. Returns {usage after the charges,
/// seeded_at}, or {'unseeded', '0'} (nothing counted) when there is no counter.
static CHARGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if not redis.call('HGET', KEYS[1], 'usage') then return {'unseeded', '0'} end
local seeded = redis.call('HGET', KEYS[1], 'seeded_at') or '0'
for i = 2, #KEYS do
  local cost, stored = ARGV[2 * i - 2], tonumber(ARGV[2 * i - 1])
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) and (stored == 0 or stored > tonumber(seeded)) then
    redis.call('HINCRBYFLOAT', KEYS[1], 'usage', cost)
  end
end
return {redis.call('HGET', KEYS[1], 'usage'), seeded}
",
    )
});

/// KEYS[1] the key's token window (`switchyard:tpm:{id}`: a hash of unix second -> tokens).
/// ARGV: the request's estimate, the key's tokens per minute. Drops the seconds older than a
/// minute (Redis's clock), then reserves the estimate in the current second when it fits.
/// Returns {1, 0, second} reserved, or {0, seconds to wait, second}.
static TOKENS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(redis.call('TIME')[1])
local h = redis.call('HGETALL', KEYS[1])
local used, oldest = 0, now
for i = 1, #h, 2 do
  local s = tonumber(h[i])
  if s <= now - 60 then
    redis.call('HDEL', KEYS[1], h[i])
  else
    used = used + tonumber(h[i + 1])
    if s < oldest then oldest = s end
  end
end
local est, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
if used + est > tpm then
  local wait = oldest + 60 - now
  if wait < 1 then wait = 1 end
  return {0, wait, now}
end
redis.call('HINCRBY', KEYS[1], tostring(now), est)
redis.call('EXPIRE', KEYS[1], 120)
return {1, 0, now}
",
    )
});

/// KEYS[1] the token window; ARGV: the reservation's second, the tokens to add (negative:
/// to take back). Applied only while that second is still in the window.
static SETTLE_TOKENS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  local v = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
  if v < 0 then redis.call('HSET', KEYS[1], ARGV[1], 0) end
end
return 1
",
    )
});

/// How long a charge's marker is kept: a charge retried within this long of its first try is
/// never counted twice. Charges are retried every half second while Redis answers, so only an
/// outage of Redis longer than this (with its data kept) could count one twice — in Redis's
/// mirror of spend, never in the store, which is the record.
const MARKER_TTL_S: u64 = 900;

/// One charge for Redis: generation id, USD, when its record was seen in the store (ms since
/// the epoch; 0: not yet).
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    pub gen_id: String,
    pub cost: f64,
    pub stored_ms: u64,
}

/// What Redis said to charges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Charged {
    /// The key's usage after them, and when its counter was seeded.
    Total { usage: f64, seeded_at: u64 },
    /// No counter: seed it, then send them again.
    Unseeded,
}

/// What the cluster said about a request's key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admission {
    Admitted {
        usage: f64,
        seeded_at: u64,
    },
    AtLimit {
        usage: f64,
        seeded_at: u64,
    },
    RateLimited {
        wait_s: f64,
    },
    Revoked,
    /// Redis has no counter for the key (new, or Redis lost its data): seed it, then ask again.
    Unseeded,
}

fn usage_key(id: &str) -> String {
    format!("switchyard:key:{id}")
}

fn marker_key(gen_id: &str) -> String {
    format!("switchyard:charged:{gen_id}")
}

impl Cluster {
    /// The cluster's verdict on a key, or None when Redis did not answer (local checks decide).
    pub async fn admit(&self, id: &str, limit: Option<f64>, rpm: Option<u32>) -> Option<Admission> {
        let keys = [usage_key(id), format!("switchyard:rate:{id}")];
        let limit = limit.map(|l| l.to_string()).unwrap_or_default();
        let rpm = rpm.unwrap_or(0);
        let reply: (i64, String, String) = self
            .run("admitting a key", move |mut conn| {
                Box::pin(async move {
                    ADMIT
                        .key(&keys[0])
                        .key(&keys[1])
                        .arg(limit)
                        .arg(rpm)
                        .invoke_async(&mut conn)
                        .await
                })
            })
            .await?;
        let value = reply.1.parse::<f64>().unwrap_or(0.0);
        let seeded_at = reply.2.parse::<u64>().unwrap_or(0);
        Some(match reply.0 {
            0 => Admission::Admitted {
                usage: value,
                seeded_at,
            },
            1 => Admission::AtLimit {
                usage: value,
                seeded_at,
            },
            2 => Admission::RateLimited {
                wait_s: value.max(0.0) / 1000.0,
            },
            4 => Admission::Unseeded,
            _ => Admission::Revoked,
        })
    }

    /// Creates the key's counter from the store's figure `usage`, read just after `read_at_ms`
    /// (unless another instance created it meanwhile); the counter's usage and `seeded_at`, or
    /// None when Redis did not answer.
    pub async fn seed(&self, id: &str, usage: f64, read_at_ms: u64) -> Option<(f64, u64)> {
        let key = usage_key(id);
        let (total, seeded_at): (String, String) = self
            .run("seeding a key's counter", move |mut conn| {
                Box::pin(async move {
                    SEED.key(&key)
                        .arg(usage)
                        .arg(read_at_ms)
                        .invoke_async(&mut conn)
                        .await
                })
            })
            .await?;
        Some((total.parse().ok()?, seeded_at.parse().unwrap_or(0)))
    }

    /// Adds finished requests' costs to the key's shared spend, each at most once however
    /// often it is sent; None when Redis did not answer (the charges may or may not have been
    /// counted: send them again, with the same ids).
    pub async fn charge(&self, id: &str, charges: &[Charge]) -> Option<Charged> {
        let key = usage_key(id);
        let charges = charges.to_vec();
        let (total, seeded_at): (String, String) = self
            .run("charging a key", move |mut conn| {
                Box::pin(async move {
                    let mut call = CHARGE.key(&key);
                    for c in &charges {
                        call.key(marker_key(&c.gen_id));
                    }
                    call.arg(MARKER_TTL_S);
                    for c in &charges {
                        call.arg(c.cost).arg(c.stored_ms);
                    }
                    call.invoke_async(&mut conn).await
                })
            })
            .await?;
        if total == "unseeded" {
            return Some(Charged::Unseeded);
        }
        Some(Charged::Total {
            usage: total.parse().ok()?,
            seeded_at: seeded_at.parse().unwrap_or(0),
        })
    }

    /// Reserves a request's estimated tokens in the key's shared minute (`tpm`): Ok(second of
    /// the reservation, Redis's clock) or Err(seconds to wait); None when Redis did not answer.
    pub async fn reserve_tokens(
        &self,
        id: &str,
        estimate: u64,
        tpm: u64,
    ) -> Option<Result<i64, f64>> {
        let key = format!("switchyard:tpm:{id}");
        let (ok, wait, second): (i64, i64, i64) = self
            .run("reserving a key's tokens", move |mut conn| {
                Box::pin(async move {
                    TOKENS
                        .key(&key)
                        .arg(estimate)
                        .arg(tpm)
                        .invoke_async(&mut conn)
                        .await
                })
            })
            .await?;
        #[allow(clippy::cast_precision_loss)]
        Some(if ok == 1 {
            Ok(second)
        } else {
            Err(wait as f64)
        })
    }

    /// Replaces a reservation made at `second` of `estimate` tokens by `actual` (best effort:
    /// a reservation Redis does not settle stays counted at its estimate for its minute).
    pub async fn settle_tokens(&self, id: &str, second: i64, estimate: u64, actual: u64) {
        let delta =
            i64::try_from(actual).unwrap_or(i64::MAX) - i64::try_from(estimate).unwrap_or(i64::MAX);
        if delta == 0 {
            return;
        }
        let key = format!("switchyard:tpm:{id}");
        let _: Option<i64> = self
            .run("settling a key's tokens", move |mut conn| {
                Box::pin(async move {
                    SETTLE_TOKENS
                        .key(&key)
                        .arg(second)
                        .arg(delta)
                        .invoke_async(&mut conn)
                        .await
                })
            })
            .await;
    }

    /// A deleted key is refused by every instance from its next request. False when Redis did
    /// not take it; it is then kept and sent again once Redis answers (`retry_revocations`).
    pub async fn revoke(&self, id: &str) -> bool {
        let key = usage_key(id);
        let done: Option<i64> = self
            .run("revoking a key", move |mut conn| {
                Box::pin(async move {
                    redis::cmd("HSET")
                        .arg(&key)
                        .arg("revoked")
                        .arg(1)
                        .query_async(&mut conn)
                        .await
                })
            })
            .await;
        if done.is_none() {
            self.pending_revocations
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(id.to_owned());
        }
        done.is_some()
    }

    /// Sends the revocations Redis could not take before (called while it answers).
    pub async fn retry_revocations(&self) {
        let ids: Vec<String> = self
            .pending_revocations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain()
            .collect();
        for id in ids {
            if self.revoke(&id).await {
                tracing::info!(key_id = %id, "key revocation reached redis");
            }
        }
    }

    /// When the key's counter was seeded: None when Redis did not answer, Some(None) when it
    /// has no counter.
    pub async fn seeded_at(&self, id: &str) -> Option<Option<u64>> {
        let key = usage_key(id);
        let v: Option<String> = self
            .run("reading a key's seed", move |mut conn| {
                Box::pin(async move {
                    redis::cmd("HGET")
                        .arg(&key)
                        .arg("seeded_at")
                        .query_async(&mut conn)
                        .await
                })
            })
            .await?;
        Some(v.and_then(|s| s.parse().ok()))
    }

    /// The key's shared spend, when Redis knows it.
    pub async fn usage(&self, id: &str) -> Option<f64> {
        let key = usage_key(id);
        let v: Option<String> = self
            .run("reading a key's usage", move |mut conn| {
                Box::pin(async move {
                    redis::cmd("HGET")
                        .arg(&key)
                        .arg("usage")
                        .query_async(&mut conn)
                        .await
                })
            })
            .await?;
        v.and_then(|s| s.parse().ok())
    }
}

/// Against the Redis on 127.0.0.1:6379 (database 9; each test's key ids are its own).
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::health::InMemoryHealth;
    use crate::state::Clock;

    fn cluster(stop: &CancellationToken) -> Arc<Cluster> {
        Cluster::start(
            "redis://127.0.0.1:6379/9",
            Arc::new(InMemoryHealth::default()),
            Clock::start(),
            stop.clone(),
        )
        .unwrap()
    }

    fn unique(prefix: &str) -> String {
        format!("{prefix}-{:016x}", rand::random::<u64>())
    }

    fn charge(gen_id: &str, cost: f64, stored_ms: u64) -> Charge {
        Charge {
            gen_id: gen_id.to_owned(),
            cost,
            stored_ms,
        }
    }

    /// A charge whose answer was lost (Redis ran it, the client timed out) is sent again with
    /// the same generation id: counted once. Without the marker it was added twice.
    #[tokio::test]
    async fn a_charge_sent_again_with_the_same_generation_id_counts_once() {
        let stop = CancellationToken::new();
        let c = cluster(&stop);
        let key = unique("key_idem");
        let (g1, g2) = (unique("gen-a"), unique("gen-b"));
        let unseeded = c.charge(&key, &[charge(&g1, 0.5, 0)]).await;
        assert_eq!(
            unseeded,
            Some(Charged::Unseeded),
            "is Redis running on 127.0.0.1:6379?"
        );
        assert_eq!(c.seed(&key, 0.0, 1).await, Some((0.0, 1)));
        let once = Some(Charged::Total {
            usage: 0.5,
            seeded_at: 1,
        });
        assert_eq!(c.charge(&key, &[charge(&g1, 0.5, 0)]).await, once);
        assert_eq!(c.charge(&key, &[charge(&g1, 0.5, 0)]).await, once);
        let both = c
            .charge(&key, &[charge(&g1, 0.5, 0), charge(&g2, 0.25, 0)])
            .await;
        assert!(matches!(both, Some(Charged::Total { usage, .. }) if usage == 0.75));
        assert_eq!(c.usage(&key).await, Some(0.75));
        stop.cancel();
    }

    /// A counter rebuilt from the store (Redis lost its data) already holds what the store had
    /// when it was read: a charge sent again whose record was in the store by then is skipped,
    /// one stored later (or not yet) is counted. A second seed never replaces the first.
    #[tokio::test]
    async fn a_reseeded_counter_skips_the_charges_its_seed_holds() {
        let stop = CancellationToken::new();
        let c = cluster(&stop);
        let key = unique("key_seed");
        assert_eq!(c.seed(&key, 2.0, 1_000).await, Some((2.0, 1_000)));
        assert_eq!(
            c.seed(&key, 100.0, 2_000).await,
            Some((2.0, 1_000)),
            "seeded once"
        );
        let reply = c
            .charge(
                &key,
                &[
                    charge(&unique("gen-in-seed"), 1.0, 999),
                    charge(&unique("gen-later"), 0.25, 1_001),
                    charge(&unique("gen-unstored"), 0.5, 0),
                ],
            )
            .await;
        assert_eq!(
            reply,
            Some(Charged::Total {
                usage: 2.75,
                seeded_at: 1_000
            })
        );
        stop.cancel();
    }

    /// A revocation is a flag the admission script reads.
    #[tokio::test]
    async fn a_revoked_key_is_refused_at_admission() {
        let stop = CancellationToken::new();
        let c = cluster(&stop);
        let key = unique("key_rev");
        assert_eq!(
            c.admit(&key, Some(10.0), None).await,
            Some(Admission::Unseeded)
        );
        c.seed(&key, 0.0, 1).await;
        assert!(matches!(
            c.admit(&key, Some(10.0), None).await,
            Some(Admission::Admitted { .. })
        ));
        assert!(c.revoke(&key).await);
        assert_eq!(
            c.admit(&key, Some(10.0), None).await,
            Some(Admission::Revoked)
        );
        stop.cancel();
    }
}
