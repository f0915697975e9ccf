//! Key limits shared through Redis: one Lua script admits a request (revoked? spend at the
//! limit? requests-per-minute allowance left?) atomically; another adds finished requests'
//! costs, each at most once: a charge is idempotent per generation id (a marker set with NX
//! guards each addition), so a charge whose answer was lost — it timed out after Redis ran it
//! — is sent again with the same id and never counted twice.

use std::sync::LazyLock;

use redis::Script;

use super::Cluster;

/// KEYS[1] the key's hash, KEYS[2] its rate state. ARGV: limit ("" for none), the usage to seed
/// a missing counter with, requests per minute (0 for none).
/// Returns {code, value}: 0 admitted (usage), 1 at its limit (usage), 2 over its rate (ms to
/// wait), 3 revoked. Rate: GCRA on Redis's clock, the minute's allowance as the burst.
static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], 'revoked') then return {3, '0'} end
local usage = redis.call('HGET', KEYS[1], 'usage')
if not usage then
  redis.call('HSET', KEYS[1], 'usage', ARGV[2])
  usage = ARGV[2]
end
if ARGV[1] ~= '' and tonumber(usage) >= tonumber(ARGV[1]) then return {1, usage} end
local rpm = tonumber(ARGV[3])
if rpm > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local interval = 60000 / rpm
  local tat = tonumber(redis.call('GET', KEYS[2]) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  if new_tat - now > 60000 then return {2, tostring(new_tat - 60000 - now)} end
  redis.call('SET', KEYS[2], tostring(new_tat), 'PX', math.ceil(new_tat - now))
end
return {0, usage}
",
    )
});

/// KEYS[1] the key's hash, KEYS[2..] one marker per charge (`switchyard:charged:{gen id}`).
/// ARGV[1] the usage to seed a missing counter with, ARGV[2] the markers' lifetime in seconds,
/// ARGV[3..] the charges' costs, in the order of their markers. A charge whose marker exists
/// was counted before and is skipped. Returns the usage after the charges.
static CHARGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if not redis.call('HGET', KEYS[1], 'usage') then redis.call('HSET', KEYS[1], 'usage', ARGV[1]) end
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[2]) then
    redis.call('HINCRBYFLOAT', KEYS[1], 'usage', ARGV[i + 1])
  end
end
return redis.call('HGET', KEYS[1], 'usage')
",
    )
});

/// How long a charge's marker is kept: a charge retried within this long of its first try is
/// never counted twice. Charges are retried every half second while Redis answers, so only an
/// outage of Redis longer than this (with its data kept) could count one twice — in Redis's
/// mirror of spend, never in the store, which is the record.
const MARKER_TTL_S: u64 = 900;

/// What the cluster said about a request's key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admission {
    Admitted { usage: f64 },
    AtLimit { usage: f64 },
    RateLimited { wait_s: f64 },
    Revoked,
}

fn usage_key(id: &str) -> String {
    format!("switchyard:key:{id}")
}

fn marker_key(gen_id: &str) -> String {
    format!("switchyard:charged:{gen_id}")
}

impl Cluster {
    /// The cluster's verdict on a key, or None when Redis did not answer (local checks decide).
    pub async fn admit(
        &self,
        id: &str,
        limit: Option<f64>,
        rpm: Option<u32>,
        seed: f64,
    ) -> Option<Admission> {
        let keys = [usage_key(id), format!("switchyard:rate:{id}")];
        let limit = limit.map(|l| l.to_string()).unwrap_or_default();
        let rpm = rpm.unwrap_or(0);
        let reply: (i64, String) = self
            .run("admitting a key", move |mut conn| {
                Box::pin(async move {
                    ADMIT
                        .key(&keys[0])
                        .key(&keys[1])
                        .arg(limit)
                        .arg(seed)
                        .arg(rpm)
                        .invoke_async(&mut conn)
                        .await
                })
            })
            .await?;
        let value = reply.1.parse::<f64>().unwrap_or(0.0);
        Some(match reply.0 {
            0 => Admission::Admitted { usage: value },
            1 => Admission::AtLimit { usage: value },
            2 => Admission::RateLimited {
                wait_s: value.max(0.0) / 1000.0,
            },
            _ => Admission::Revoked,
        })
    }

    /// Adds finished requests' costs (generation id, USD) to the key's shared spend, each at
    /// most once however often it is sent; the new total, or None when Redis did not answer
    /// (the charges may or may not have been counted: send them again, with the same ids).
    pub async fn charge(&self, id: &str, charges: &[(String, f64)], seed: f64) -> Option<f64> {
        let key = usage_key(id);
        let charges = charges.to_vec();
        let total: String = self
            .run("charging a key", move |mut conn| {
                Box::pin(async move {
                    let mut call = CHARGE.key(&key);
                    for (gen_id, _) in &charges {
                        call.key(marker_key(gen_id));
                    }
                    call.arg(seed).arg(MARKER_TTL_S);
                    for (_, cost) in &charges {
                        call.arg(*cost);
                    }
                    call.invoke_async(&mut conn).await
                })
            })
            .await?;
        total.parse().ok()
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
