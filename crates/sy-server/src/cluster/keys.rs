//! Key limits shared through Redis: one Lua script admits a request (revoked? spend at the
//! limit? requests-per-minute allowance left?) atomically; another adds a finished request's cost.

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

/// KEYS[1] the key's hash. ARGV: cost, the usage to seed a missing counter with. Returns the
/// new usage.
static CHARGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if not redis.call('HGET', KEYS[1], 'usage') then redis.call('HSET', KEYS[1], 'usage', ARGV[2]) end
return redis.call('HINCRBYFLOAT', KEYS[1], 'usage', ARGV[1])
",
    )
});

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

    /// Adds a finished request's cost to the key's shared spend; the new total, or None when
    /// Redis did not answer.
    pub async fn charge(&self, id: &str, cost: f64, seed: f64) -> Option<f64> {
        let key = usage_key(id);
        let total: String = self
            .run("charging a key", move |mut conn| {
                Box::pin(async move {
                    CHARGE
                        .key(&key)
                        .arg(cost)
                        .arg(seed)
                        .invoke_async(&mut conn)
                        .await
                })
            })
            .await?;
        total.parse().ok()
    }

    /// A deleted key is refused by every instance from its next request.
    pub async fn revoke(&self, id: &str) {
        let key = usage_key(id);
        let _: Option<i64> = self
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
