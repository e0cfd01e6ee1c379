//! The waiting room in Redis. Per concert:
//!
//! - `queue:{c}:waiting` — sorted set, user → arrival number (from `queue:{c}:seq`), so the
//!   order is exactly the order of arrival;
//! - `queue:{c}:active` — sorted set, admitted user → admission expiry (ms);
//! - `queue:{c}:seen` — sorted set, waiting user → last sign of life (ms): a user whose stream
//!   stayed closed (and who did not poll) past the grace period loses the place;
//! - `queue:{c}:admitted` — how many were admitted so far (for the measured rate);
//! - `queue:{c}:tick` — held for one tick by the instance that admits, so N instances admit
//!   at the rate of one;
//! - `queues` — the concerts with a queue (a key of its own, outside the scripts).
//!
//! `{c}` is the hash tag of every key of the concert (the holds' keys carry the same one), so
//! on a Redis Cluster each script runs on the concert's slot.
//!
//! Redis restarting empty loses the line. `seq` only grows, so an instance whose last read saw
//! a higher `seq` than Redis now has knows the line was lost, and puts back what it last saw
//! (`restore`): the same order, the same admissions.
//!
//! A line exists only for a concert the database has (joining checks it first); a deleted
//! concert's line is removed by the admission round (`remove`).

use std::sync::LazyLock;

use deadpool_redis::redis::{self, Script};

use super::redis::{Instrumented, RedisClient};
use crate::{domain::queue::Joined, error::AppResult};

const NOW: &str = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";

static JOIN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{NOW}
        local active = redis.call('ZSCORE', KEYS[2], ARGV[1])
        if active and tonumber(active) > now then return {{'ACTIVE', '0', tostring(redis.call('ZCARD', KEYS[1]))}} end
        local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
        redis.call('ZADD', KEYS[4], now, ARGV[1])
        if rank then return {{'WAITING', tostring(rank + 1), tostring(redis.call('ZCARD', KEYS[1]))}} end
        local seq = redis.call('INCR', KEYS[3])
        redis.call('ZADD', KEYS[1], seq, ARGV[1])
        return {{'JOINED', tostring(redis.call('ZRANK', KEYS[1], ARGV[1]) + 1), tostring(redis.call('ZCARD', KEYS[1]))}}"
    ))
});

static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{NOW}
        local per_tick = tonumber(ARGV[2])
        if redis.call('SET', KEYS[5], '1', 'NX', 'PX', ARGV[1]) == false then return {{-1}} end
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
        local room = math.min(per_tick, tonumber(ARGV[3]) - redis.call('ZCARD', KEYS[2]))
        local grace = now - tonumber(ARGV[5])
        local admitted, dropped = 0, 0
        while room > 0 do
            local batch = redis.call('ZRANGE', KEYS[1], 0, room - 1)
            if #batch == 0 then break end
            for _, uid in ipairs(batch) do
                redis.call('ZREM', KEYS[1], uid)
                local seen = redis.call('ZSCORE', KEYS[3], uid)
                redis.call('ZREM', KEYS[3], uid)
                if seen and tonumber(seen) >= grace then
                    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), uid)
                    admitted = admitted + 1
                    room = room - 1
                else
                    dropped = dropped + 1
                end
            end
        end
        if admitted > 0 then redis.call('INCRBY', KEYS[4], admitted) end
        local empty = 0
        if redis.call('ZCARD', KEYS[1]) == 0 and redis.call('ZCARD', KEYS[2]) == 0 then empty = 1 end
        return {{admitted, dropped, empty}}"
    ))
});

static SNAPSHOT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{NOW}
        return {{
            tostring(now),
            redis.call('GET', KEYS[3]) or '0',
            redis.call('ZRANGE', KEYS[1], 0, -1),
            redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf', 'WITHSCORES'),
            redis.call('GET', KEYS[4]) or '0'
        }}"
    ))
});

// KEYS: waiting, active, seen, seq. ARGV: the seq last seen, the number of waiting users, the waiting users in order, then (user, admission expiry) pairs. Only when
// Redis's seq is below the one last seen (the line was lost, and nobody restored it yet).
// Whoever joined since the loss goes behind the restored line, in the order they joined.
static RESTORE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{NOW}
        local prev = tonumber(ARGV[1])
        local cur = tonumber(redis.call('GET', KEYS[4]) or '0')
        if cur >= prev then return -1 end
        local late = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
        for i = 1, #late, 2 do redis.call('ZADD', KEYS[1], prev + tonumber(late[i + 1]), late[i]) end
        local n = tonumber(ARGV[2])
        local restored = 0
        for i = 1, n do
            local uid = ARGV[2 + i]
            if not redis.call('ZSCORE', KEYS[2], uid) then
                redis.call('ZADD', KEYS[1], i, uid)
                redis.call('ZADD', KEYS[3], now, uid)
                restored = restored + 1
            end
        end
        for j = 3 + n, #ARGV, 2 do
            local uid, expiry = ARGV[j], tonumber(ARGV[j + 1])
            if expiry > now then
                redis.call('ZREM', KEYS[1], uid)
                redis.call('ZREM', KEYS[3], uid)
                if redis.call('ZADD', KEYS[2], 'NX', expiry, uid) == 1 then restored = restored + 1 end
            end
        end
        redis.call('SET', KEYS[4], prev + cur)
        return restored"
    ))
});

static ACTIVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{NOW}
        local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
        if s and tonumber(s) > now then return 1 end
        return 0"
    ))
});

static POSITION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{NOW}
        local total = redis.call('ZCARD', KEYS[1])
        local active = redis.call('ZSCORE', KEYS[2], ARGV[1])
        if active and tonumber(active) > now then return {{'ACTIVE', tostring(total), active}} end
        local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
        if not rank then return {{'NONE', tostring(total)}} end
        redis.call('ZADD', KEYS[3], 'XX', now, ARGV[1])
        return {{'WAITING', tostring(total), tostring(rank + 1)}}"
    ))
});

/// One user's standing, read cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Waiting {
        position: u64,
        total: u64,
    },
    /// Admitted until the given time (ms).
    Admitted {
        until_ms: i64,
        total: u64,
    },
    Absent,
}

/// A concert's queue in numbers.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueStats {
    pub waiting: u64,
    pub active: u64,
    /// Everyone ever admitted (grows by each admission).
    pub admitted_total: u64,
}

/// What one admission round did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Admission {
    pub admitted: u64,
    /// Waiting users dropped for absence.
    pub dropped: u64,
}

/// The admission round's settings.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionRules {
    pub tick_ms: u64,
    pub per_tick: u32,
    pub max_active: u32,
    pub active_ttl_ms: u64,
    pub grace_ms: u64,
}

/// One read of a concert's queue.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub now_ms: i64,
    pub admitted_total: u64,
    /// Waiting users in order (position = index + 1).
    pub waiting: Vec<i64>,
    /// Admitted users with their admission expiry (ms).
    pub active: Vec<(i64, i64)>,
    /// Arrivals so far (`seq`): it only grows, unless Redis lost the line.
    pub seq: u64,
}

impl Snapshot {
    /// Whether `now` shows this line lost: fewer arrivals than this read saw, with people in it.
    pub fn lost_in(&self, now: &Snapshot) -> bool {
        now.seq < self.seq && !(self.waiting.is_empty() && self.active.is_empty())
    }
}

/// A key of the concert's waiting room (`queue:{concert}:{part}`).
pub fn queue_key(redis: &RedisClient, concert: i64, part: &str) -> String {
    redis.key_fmt(format_args!("queue:{{{concert}}}:{part}"))
}

#[derive(Clone)]
pub struct Queue {
    redis: RedisClient,
}

impl Queue {
    pub fn new(redis: RedisClient) -> Self {
        Queue { redis }
    }

    fn key(&self, concert: i64, part: &str) -> String {
        queue_key(&self.redis, concert, part)
    }

    /// Puts the concert on the admission round's list.
    async fn list(&self, concert: i64) -> AppResult<()> {
        let mut conn = self.redis.conn().await?;
        self.list_on(&mut conn, concert).await
    }

    async fn list_on(&self, conn: &mut Instrumented, concert: i64) -> AppResult<()> {
        let _: u64 =
            redis::cmd("SADD").arg(self.redis.key("queues")).arg(concert).query_async(conn).await?;
        Ok(())
    }

    /// Takes the concert off the list after a round that left its line empty, unless someone
    /// joined meanwhile: a join lists the concert after its script, so a join this check
    /// misses lists it again itself.
    async fn unlist_if_empty(&self, concert: i64) -> AppResult<()> {
        let mut conn = self.redis.conn().await?;
        let _: u64 = redis::cmd("SREM")
            .arg(self.redis.key("queues"))
            .arg(concert)
            .query_async(&mut conn)
            .await?;
        let (waiting, active): (u64, u64) = redis::pipe()
            .zcard(self.key(concert, "waiting"))
            .zcard(self.key(concert, "active"))
            .query_async(&mut conn)
            .await?;
        if waiting + active > 0 {
            self.list(concert).await?;
        }
        Ok(())
    }

    pub async fn join(&self, concert: i64, user: i64) -> AppResult<Joined> {
        let mut conn = self.redis.conn().await?;
        let reply: Vec<String> = JOIN
            .key(self.key(concert, "waiting"))
            .key(self.key(concert, "active"))
            .key(self.key(concert, "seq"))
            .key(self.key(concert, "seen"))
            .arg(user)
            .invoke_async(&mut conn)
            .await?;
        let n = |i: usize| reply.get(i).and_then(|s| s.parse().ok()).unwrap_or_default();
        // After the script, so an admission round that found the line empty and unlists it
        // either sees this fan or is followed by this listing (`unlist_if_empty`).
        if reply.first().is_some_and(|r| r != "ACTIVE") {
            self.list_on(&mut conn, concert).await?;
        }
        Ok(match reply.first().map(String::as_str) {
            Some("ACTIVE") => Joined::Active { total: n(2) },
            Some("WAITING") => Joined::Waiting { position: n(1), total: n(2) },
            _ => Joined::New { position: n(1), total: n(2) },
        })
    }

    /// The user's standing (and a sign of life when waiting).
    pub async fn standing(&self, concert: i64, user: i64) -> AppResult<Standing> {
        let mut conn = self.redis.conn().await?;
        let reply: Vec<String> = POSITION
            .key(self.key(concert, "waiting"))
            .key(self.key(concert, "active"))
            .key(self.key(concert, "seen"))
            .arg(user)
            .invoke_async(&mut conn)
            .await?;
        let n = |i: usize| reply.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or_default();
        Ok(match reply.first().map(String::as_str) {
            Some("ACTIVE") => Standing::Admitted { until_ms: n(2) as i64, total: n(1) as u64 },
            Some("WAITING") => Standing::Waiting { position: n(2) as u64, total: n(1) as u64 },
            _ => Standing::Absent,
        })
    }

    /// Leaves the line and gives up an admission.
    pub async fn leave(&self, concert: i64, user: i64) -> AppResult<bool> {
        let mut conn = self.redis.conn().await?;
        let (waiting, active, _): (u64, u64, u64) = redis::pipe()
            .zrem(self.key(concert, "waiting"), user)
            .zrem(self.key(concert, "active"), user)
            .zrem(self.key(concert, "seen"), user)
            .query_async(&mut conn)
            .await?;
        Ok(waiting + active > 0)
    }

    /// The user is done buying (or failed): frees the admission for the next in line.
    pub async fn finish(&self, concert: i64, user: i64) -> AppResult<()> {
        let mut conn = self.redis.conn().await?;
        let _: u64 = redis::cmd("ZREM")
            .arg(self.key(concert, "active"))
            .arg(user)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    pub async fn is_admitted(&self, concert: i64, user: i64) -> AppResult<bool> {
        let mut conn = self.redis.conn().await?;
        let active: i64 =
            ACTIVE.key(self.key(concert, "active")).arg(user).invoke_async(&mut conn).await?;
        Ok(active == 1)
    }

    /// Marks the users as present (their streams are open).
    pub async fn touch(&self, concert: i64, users: &[i64]) -> AppResult<()> {
        if users.is_empty() {
            return Ok(());
        }
        let now = chrono::Utc::now().timestamp_millis();
        let mut cmd = redis::cmd("ZADD");
        // XX: only users still waiting (a touch never puts someone back in line).
        cmd.arg(self.key(concert, "seen")).arg("XX");
        for user in users {
            cmd.arg(now).arg(*user);
        }
        let mut conn = self.redis.conn().await?;
        let _: u64 = cmd.query_async(&mut conn).await?;
        Ok(())
    }

    /// Admits the next users of one concert, if this instance holds the tick; `None` when
    /// another instance had the tick.
    pub async fn admit(&self, concert: i64, rules: AdmissionRules) -> AppResult<Option<Admission>> {
        let mut conn = self.redis.conn().await?;
        let reply: Vec<i64> = ADMIT
            .key(self.key(concert, "waiting"))
            .key(self.key(concert, "active"))
            .key(self.key(concert, "seen"))
            .key(self.key(concert, "admitted"))
            .key(self.key(concert, "tick"))
            .arg(rules.tick_ms.saturating_sub(rules.tick_ms / 10).max(1))
            .arg(rules.per_tick)
            .arg(rules.max_active)
            .arg(rules.active_ttl_ms)
            .arg(rules.grace_ms)
            .invoke_async(&mut conn)
            .await?;
        drop(conn);
        Ok(match reply.as_slice() {
            [-1] => None,
            [admitted, dropped, empty] => {
                if *empty == 1 {
                    self.unlist_if_empty(concert).await?;
                }
                Some(Admission { admitted: *admitted as u64, dropped: *dropped as u64 })
            }
            _ => Some(Admission::default()),
        })
    }

    /// Removes the concert's line and every key of it (the concert is gone).
    pub async fn remove(&self, concert: i64) -> AppResult<()> {
        let mut conn = self.redis.conn().await?;
        let _: () = redis::pipe()
            .atomic()
            .del(
                ["waiting", "active", "seen", "seq", "admitted", "tick"]
                    .map(|part| self.key(concert, part))
                    .to_vec(),
            )
            .ignore()
            .query_async(&mut conn)
            .await?;
        let _: u64 = redis::cmd("SREM")
            .arg(self.redis.key("queues"))
            .arg(concert)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Concerts that have a queue right now.
    pub async fn concerts(&self) -> AppResult<Vec<i64>> {
        let mut conn = self.redis.conn().await?;
        Ok(redis::cmd("SMEMBERS").arg(self.redis.key("queues")).query_async(&mut conn).await?)
    }

    /// The whole queue of a concert in one call.
    pub async fn snapshot(&self, concert: i64) -> AppResult<Snapshot> {
        let mut conn = self.redis.conn().await?;
        let (now, admitted, waiting, active, seq): (
            String,
            String,
            Vec<i64>,
            Vec<(i64, i64)>,
            String,
        ) = SNAPSHOT
            .key(self.key(concert, "waiting"))
            .key(self.key(concert, "active"))
            .key(self.key(concert, "admitted"))
            .key(self.key(concert, "seq"))
            .invoke_async(&mut conn)
            .await?;
        Ok(Snapshot {
            now_ms: now.parse().unwrap_or_default(),
            admitted_total: admitted.parse().unwrap_or_default(),
            waiting,
            active,
            seq: seq.parse().unwrap_or_default(),
        })
    }

    /// Puts back a line Redis lost (`last` is the last read before the loss): the waiting users
    /// in the same order, the admissions still running. `None` when there was nothing to
    /// restore (another instance did it, or the line was not lost); else how many came back.
    pub async fn restore(&self, concert: i64, last: &Snapshot) -> AppResult<Option<u64>> {
        let mut conn = self.redis.conn().await?;
        let mut invocation = RESTORE.prepare_invoke();
        invocation
            .key(self.key(concert, "waiting"))
            .key(self.key(concert, "active"))
            .key(self.key(concert, "seen"))
            .key(self.key(concert, "seq"))
            .arg(last.seq)
            .arg(last.waiting.len());
        for user in &last.waiting {
            invocation.arg(*user);
        }
        for (user, expiry) in &last.active {
            invocation.arg(*user).arg(*expiry);
        }
        let restored: i64 = invocation.invoke_async(&mut conn).await?;
        drop(conn);
        if restored >= 0 {
            self.list(concert).await?;
        }
        Ok(u64::try_from(restored).ok())
    }

    /// People in line, people admitted, and how many were ever admitted: one round trip.
    pub async fn stats(&self, concert: i64) -> AppResult<QueueStats> {
        let mut conn = self.redis.conn().await?;
        let (waiting, active, admitted): (u64, u64, Option<u64>) = redis::pipe()
            .zcard(self.key(concert, "waiting"))
            .zcard(self.key(concert, "active"))
            .get(self.key(concert, "admitted"))
            .query_async(&mut conn)
            .await?;
        Ok(QueueStats { waiting, active, admitted_total: admitted.unwrap_or_default() })
    }
}
