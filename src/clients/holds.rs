//! Seat holds in Redis. Every seat has at most one state key, `seat:{id}`:
//!
//! | value | meaning | expiry |
//! |---|---|---|
//! | `h:{user}` | held by the user | `HOLD_TTL_SECS` |
//! | `c:{user}:{hold expiry ms}` | the holder is checking out | one minute |
//! | `r:{user}:{reservation}` | in the user's unpaid reservation | the reservation's expiry + grace |
//! | `s` | sold | none |
//!
//! Per concert: `concert:{id}:info` (sale window, status; its presence means the concert's
//! seat states were loaded from the database), `concert:{id}:seats` (live seat ids),
//! `concert:{id}:held` (seat → expiry, for the seat map), `concert:{id}:ver` (catalogue
//! version, changed by admin edits), and per user `concert:{id}:user:{u}:holds` (seat → expiry)
//! and `…:owned` (seats in confirmed reservations), for the per-user limit.
//! Every change of several keys is one Lua script, so it is atomic; the database stays the
//! authority (a unique index refuses a second active reservation of a seat whatever Redis says).

use std::sync::LazyLock;

use deadpool_redis::redis::{self, Script};

use super::redis::RedisClient;
use crate::error::AppResult;

/// Milliseconds a seat in an unpaid reservation stays marked after the reservation's expiry,
/// so the expiry sweeper (not the TTL) ends it.
pub const RESERVATION_GRACE_MS: i64 = 60_000;
const CLAIM_TTL_MS: i64 = 60_000;

const NOW: &str = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";

static HOLD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{NOW}
        local info = redis.call('HMGET', KEYS[1], 'open', 'close', 'status', 'deleted', 'queue')
        if not info[1] then return {{'MISS'}} end
        local ver = redis.call('GET', KEYS[6]) or ''
        if info[4] == '1' then return {{'GONE'}} end
        if info[3] ~= 'SCHEDULED' then return {{'STATUS'}} end
        if now < tonumber(info[1]) then return {{'NOT_OPEN'}} end
        if now >= tonumber(info[2]) then return {{'CLOSED'}} end
        local uid = ARGV[1]
        if info[5] == '1' then
            local admitted = redis.call('ZSCORE', KEYS[7], uid)
            if not admitted or tonumber(admitted) <= now then return {{'QUEUE'}} end
        end
        local mine = 'h:' .. uid
        local base = 7
        local n = #KEYS - base
        local fresh = {{}}
        local expiries = {{}}
        for i = 1, n do
            local sid = ARGV[3 + i]
            if redis.call('HEXISTS', KEYS[2], sid) == 0 then return {{'NO_SEAT', sid}} end
            local v = redis.call('GET', KEYS[base + i])
            if not v then
                fresh[#fresh + 1] = i
            elseif v == mine then
                expiries[i] = now + redis.call('PTTL', KEYS[base + i])
            else
                local kind = string.sub(v, 1, 2)
                if kind == 'h:' or (kind == 'c:' and string.sub(v, 3, 2 + #uid + 1) ~= uid .. ':') then
                    return {{'LOCKED', sid}}
                end
                return {{'RESERVED', sid}}
            end
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
        local held = redis.call('ZCARD', KEYS[4])
        local owned = tonumber(redis.call('GET', KEYS[5]) or '0')
        if held + #fresh + owned > tonumber(ARGV[3]) then return {{'LIMIT', tostring(held + owned)}} end
        local ttl = tonumber(ARGV[2])
        local exp = now + ttl
        for _, i in ipairs(fresh) do
            redis.call('SET', KEYS[base + i], mine, 'PX', ttl)
            redis.call('ZADD', KEYS[3], exp, ARGV[3 + i])
            redis.call('ZADD', KEYS[4], exp, ARGV[3 + i])
            expiries[i] = exp
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
        local out = {{'OK', ver}}
        for i = 1, n do out[#out + 1] = tostring(expiries[i]) end
        return out"
    ))
});

static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local v = redis.call('GET', KEYS[1])
        if not v then return 'NONE' end
        if v == 'h:' .. ARGV[1] then
            redis.call('DEL', KEYS[1])
            redis.call('ZREM', KEYS[2], ARGV[2])
            redis.call('ZREM', KEYS[3], ARGV[2])
            return 'OK'
        end
        local kind = string.sub(v, 1, 2)
        if kind == 'r:' or kind == 's' or (kind == 'c:' and string.sub(v, 3, 2 + #ARGV[1] + 1) == ARGV[1] .. ':') then
            return 'RESERVED'
        end
        return 'OTHER'",
    )
});

static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{NOW}
        local mine = 'h:' .. ARGV[1]
        local expiries = {{}}
        for i = 1, #KEYS do
            local v = redis.call('GET', KEYS[i])
            if v ~= mine then
                if v and (string.sub(v, 1, #ARGV[1] + 3) == 'c:' .. ARGV[1] .. ':' or string.sub(v, 1, #ARGV[1] + 3) == 'r:' .. ARGV[1] .. ':') then
                    return {{'DUP', ARGV[1 + i]}}
                end
                return {{'NOT_HELD', ARGV[1 + i]}}
            end
            expiries[i] = now + redis.call('PTTL', KEYS[i])
        end
        for i = 1, #KEYS do
            redis.call('SET', KEYS[i], 'c:' .. ARGV[1] .. ':' .. expiries[i], 'PX', {CLAIM_TTL_MS})
        end
        return {{'OK'}}"
    ))
});

static REVERT_CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{NOW}
        local prefix = 'c:' .. ARGV[1] .. ':'
        local n = #KEYS - 2
        for i = 1, n do
            local v = redis.call('GET', KEYS[i])
            if v and string.sub(v, 1, #prefix) == prefix then
                local exp = tonumber(string.sub(v, #prefix + 1))
                if exp > now then
                    redis.call('SET', KEYS[i], 'h:' .. ARGV[1], 'PXAT', exp)
                else
                    redis.call('DEL', KEYS[i])
                    redis.call('ZREM', KEYS[n + 1], ARGV[1 + i])
                    redis.call('ZREM', KEYS[n + 2], ARGV[1 + i])
                end
            end
        end
        return 'OK'"
    ))
});

static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local n = #KEYS - 2
        local value = 'r:' .. ARGV[1] .. ':' .. ARGV[2]
        for i = 1, n do
            redis.call('SET', KEYS[i], value, 'PXAT', ARGV[3])
            redis.call('ZADD', KEYS[n + 1], ARGV[3], ARGV[3 + i])
            redis.call('ZADD', KEYS[n + 2], ARGV[3], ARGV[3 + i])
        end
        return 'OK'",
    )
});

static END_RESERVATION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local n = #KEYS - 3
        local value = 'r:' .. ARGV[1] .. ':' .. ARGV[2]
        local mode = ARGV[3]
        for i = 1, n do
            local sid = ARGV[3 + i]
            local v = redis.call('GET', KEYS[i])
            if mode == 'confirm' then
                redis.call('SET', KEYS[i], 's')
            elseif mode == 'cancel' then
                if v == 's' or v == value then redis.call('DEL', KEYS[i]) end
            elseif v == value then
                redis.call('DEL', KEYS[i])
            end
            redis.call('ZREM', KEYS[n + 1], sid)
            redis.call('ZREM', KEYS[n + 2], sid)
        end
        if mode == 'confirm' then
            redis.call('INCRBY', KEYS[n + 3], n)
        elseif mode == 'cancel' and redis.call('EXISTS', KEYS[n + 3]) == 1 then
            if redis.call('DECRBY', KEYS[n + 3], n) < 0 then redis.call('SET', KEYS[n + 3], 0) end
        end
        return 'OK'",
    )
});

static WARM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if (redis.call('GET', KEYS[3]) or '') ~= ARGV[1] then return 0 end
        redis.call('DEL', KEYS[2])
        local i = 7
        while i <= #ARGV do
            local args = {}
            for j = i, math.min(i + 999, #ARGV) do
                args[#args + 1] = ARGV[j]
                args[#args + 1] = '1'
            end
            redis.call('HSET', KEYS[2], unpack(args))
            i = i + 1000
        end
        redis.call('HSET', KEYS[1], 'open', ARGV[2], 'close', ARGV[3], 'status', ARGV[4], 'deleted', ARGV[5], 'queue', ARGV[6])
        return 1",
    )
});

static HELD_NOW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!("{NOW} return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')"))
});

/// What a hold attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOutcome {
    /// Held; the catalogue version and each seat's hold expiry (ms since the epoch).
    Held {
        version: String,
        expiries: Vec<i64>,
    },
    /// The concert's state is not in Redis yet.
    Miss,
    Deleted,
    NotOnSale,
    NotOpenYet,
    Closed,
    /// The concert has a waiting room and the user has not been admitted.
    NotAdmitted,
    NoSuchSeat(i64),
    LockedByOther(i64),
    Reserved(i64),
    /// The user's holds and purchases already reach the limit (count given).
    LimitReached(u32),
}

/// What a release found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseOutcome {
    Released,
    NotHeld,
    HeldByOther,
    /// In a reservation (being paid, or sold): not a hold to release.
    Reserved,
}

/// What a checkout claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    Claimed,
    /// The caller already checked these seats out (or is doing so right now).
    Duplicate(i64),
    NotHeld(i64),
}

/// How a reservation ended, for its seats' keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationEnd {
    Expired,
    Confirmed,
    Canceled,
}

/// A concert's state as the hold script needs it.
pub struct ConcertState {
    pub open_ms: i64,
    pub close_ms: i64,
    pub status: String,
    pub deleted: bool,
    pub queue_enabled: bool,
}

/// A seat in an unpaid reservation.
#[derive(Debug, Clone, Copy)]
pub struct ReservedSeat {
    pub seat: i64,
    pub user: i64,
    pub reservation: i64,
    pub expires_ms: i64,
}

/// How many seats a user bought for the concert.
#[derive(Debug, Clone, Copy)]
pub struct OwnedSeats {
    pub user: i64,
    pub count: i64,
}

/// Everything loaded into Redis for one concert.
pub struct ConcertLoad<'a> {
    pub state: ConcertState,
    pub live_seats: &'a [i64],
    pub sold: &'a [i64],
    pub reserved: &'a [ReservedSeat],
    pub owned: &'a [OwnedSeats],
}

/// Who holds a seat, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    pub user_id: i64,
    /// Milliseconds since the epoch.
    pub until_ms: i64,
}

/// Seat hold operations on Redis.
#[derive(Clone)]
pub struct Holds {
    redis: RedisClient,
}

impl Holds {
    pub fn new(redis: RedisClient) -> Self {
        Holds { redis }
    }

    fn seat_key(&self, seat: i64) -> String {
        self.redis.key(&format!("seat:{seat}"))
    }

    fn concert_key(&self, concert: i64, part: &str) -> String {
        self.redis.key(&format!("concert:{concert}:{part}"))
    }

    fn user_key(&self, concert: i64, user: i64, part: &str) -> String {
        self.redis.key(&format!("concert:{concert}:user:{user}:{part}"))
    }

    /// Holds every seat or none.
    pub async fn hold(
        &self,
        concert: i64,
        user: i64,
        seats: &[i64],
        ttl_ms: i64,
        max_seats: u32,
    ) -> AppResult<HoldOutcome> {
        let mut inv = HOLD.prepare_invoke();
        inv.key(self.concert_key(concert, "info"))
            .key(self.concert_key(concert, "seats"))
            .key(self.concert_key(concert, "held"))
            .key(self.user_key(concert, user, "holds"))
            .key(self.user_key(concert, user, "owned"))
            .key(self.concert_key(concert, "ver"))
            .key(self.redis.key(&format!("queue:{concert}:active")))
            .arg(user)
            .arg(ttl_ms)
            .arg(max_seats);
        for seat in seats {
            inv.key(self.seat_key(*seat)).arg(*seat);
        }
        let mut conn = self.redis.conn().await?;
        let reply: Vec<String> = inv.invoke_async(&mut conn).await?;
        let seat_arg = |i: usize| reply.get(i).and_then(|s| s.parse().ok()).unwrap_or_default();
        Ok(match reply.first().map(String::as_str) {
            Some("OK") => HoldOutcome::Held {
                version: reply.get(1).cloned().unwrap_or_default(),
                expiries: reply[2..].iter().map(|s| s.parse().unwrap_or_default()).collect(),
            },
            Some("MISS") => HoldOutcome::Miss,
            Some("GONE") => HoldOutcome::Deleted,
            Some("STATUS") => HoldOutcome::NotOnSale,
            Some("NOT_OPEN") => HoldOutcome::NotOpenYet,
            Some("CLOSED") => HoldOutcome::Closed,
            Some("QUEUE") => HoldOutcome::NotAdmitted,
            Some("NO_SEAT") => HoldOutcome::NoSuchSeat(seat_arg(1)),
            Some("LOCKED") => HoldOutcome::LockedByOther(seat_arg(1)),
            Some("RESERVED") => HoldOutcome::Reserved(seat_arg(1)),
            Some("LIMIT") => HoldOutcome::LimitReached(seat_arg(1) as u32),
            other => {
                return Err(anyhow::anyhow!("unexpected hold script reply {other:?}").into());
            }
        })
    }

    /// Compare-and-delete of the user's hold.
    pub async fn release(&self, concert: i64, user: i64, seat: i64) -> AppResult<ReleaseOutcome> {
        let mut conn = self.redis.conn().await?;
        let reply: String = RELEASE
            .key(self.seat_key(seat))
            .key(self.concert_key(concert, "held"))
            .key(self.user_key(concert, user, "holds"))
            .arg(user)
            .arg(seat)
            .invoke_async(&mut conn)
            .await?;
        Ok(match reply.as_str() {
            "OK" => ReleaseOutcome::Released,
            "NONE" => ReleaseOutcome::NotHeld,
            "RESERVED" => ReleaseOutcome::Reserved,
            _ => ReleaseOutcome::HeldByOther,
        })
    }

    /// Marks the user's held seats as being checked out, all or none.
    pub async fn claim(&self, user: i64, seats: &[i64]) -> AppResult<ClaimOutcome> {
        let mut inv = CLAIM.prepare_invoke();
        inv.arg(user);
        for seat in seats {
            inv.key(self.seat_key(*seat)).arg(*seat);
        }
        let mut conn = self.redis.conn().await?;
        let reply: Vec<String> = inv.invoke_async(&mut conn).await?;
        let seat = reply.get(1).and_then(|s| s.parse().ok()).unwrap_or_default();
        Ok(match reply.first().map(String::as_str) {
            Some("OK") => ClaimOutcome::Claimed,
            Some("DUP") => ClaimOutcome::Duplicate(seat),
            _ => ClaimOutcome::NotHeld(seat),
        })
    }

    /// Gives claimed seats back to their holder (the checkout failed).
    pub async fn revert_claim(&self, concert: i64, user: i64, seats: &[i64]) -> AppResult<()> {
        let mut inv = REVERT_CLAIM.prepare_invoke();
        inv.arg(user);
        for seat in seats {
            inv.key(self.seat_key(*seat)).arg(*seat);
        }
        inv.key(self.concert_key(concert, "held")).key(self.user_key(concert, user, "holds"));
        let mut conn = self.redis.conn().await?;
        let _: String = inv.invoke_async(&mut conn).await?;
        Ok(())
    }

    /// Marks seats as part of an unpaid reservation until `until_ms` (plus grace).
    pub async fn mark_reserved(
        &self,
        concert: i64,
        user: i64,
        reservation: i64,
        seats: &[i64],
        expires_ms: i64,
    ) -> AppResult<()> {
        let mut inv = RESERVE.prepare_invoke();
        inv.arg(user).arg(reservation).arg(expires_ms + RESERVATION_GRACE_MS);
        for seat in seats {
            inv.key(self.seat_key(*seat)).arg(*seat);
        }
        inv.key(self.concert_key(concert, "held")).key(self.user_key(concert, user, "holds"));
        let mut conn = self.redis.conn().await?;
        let _: String = inv.invoke_async(&mut conn).await?;
        Ok(())
    }

    /// Updates the seats' keys when their reservation ends.
    pub async fn end_reservation(
        &self,
        concert: i64,
        user: i64,
        reservation: i64,
        seats: &[i64],
        end: ReservationEnd,
    ) -> AppResult<()> {
        let mode = match end {
            ReservationEnd::Expired => "expire",
            ReservationEnd::Confirmed => "confirm",
            ReservationEnd::Canceled => "cancel",
        };
        let mut inv = END_RESERVATION.prepare_invoke();
        inv.arg(user).arg(reservation).arg(mode);
        for seat in seats {
            inv.key(self.seat_key(*seat)).arg(*seat);
        }
        inv.key(self.concert_key(concert, "held"))
            .key(self.user_key(concert, user, "holds"))
            .key(self.user_key(concert, user, "owned"));
        let mut conn = self.redis.conn().await?;
        let _: String = inv.invoke_async(&mut conn).await?;
        Ok(())
    }

    /// The concert's catalogue version; created when missing (e.g. after a Redis flush), so
    /// every instance then reloads what it cached.
    pub async fn version(&self, concert: i64) -> AppResult<String> {
        let key = self.concert_key(concert, "ver");
        let mut conn = self.redis.conn().await?;
        let current: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
        if let Some(v) = current {
            return Ok(v);
        }
        let fresh = uuid::Uuid::new_v4().simple().to_string();
        let _: Option<String> =
            redis::cmd("SET").arg(&key).arg(&fresh).arg("NX").query_async(&mut conn).await?;
        let v: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
        Ok(v.unwrap_or(fresh))
    }

    /// After an admin change: a new catalogue version, and the concert's state is reloaded
    /// from the database on the next hold.
    pub async fn invalidate(&self, concert: i64) -> AppResult<()> {
        let mut conn = self.redis.conn().await?;
        let _: () = redis::pipe()
            .set(self.concert_key(concert, "ver"), uuid::Uuid::new_v4().simple().to_string())
            .ignore()
            .del(self.concert_key(concert, "info"))
            .ignore()
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Seats of the concert held right now (by anyone, including unpaid reservations).
    pub async fn held_seats(&self, concert: i64) -> AppResult<Vec<i64>> {
        let mut conn = self.redis.conn().await?;
        Ok(HELD_NOW.key(self.concert_key(concert, "held")).invoke_async(&mut conn).await?)
    }

    /// Who holds the seat right now, and until when (ms), if it is held (not sold).
    pub async fn holder(&self, seat: i64) -> AppResult<Option<Holder>> {
        let mut conn = self.redis.conn().await?;
        let (value, ttl): (Option<String>, i64) = redis::pipe()
            .get(self.seat_key(seat))
            .pttl(self.seat_key(seat))
            .query_async(&mut conn)
            .await?;
        let Some(value) = value else { return Ok(None) };
        let user = value.split(':').nth(1).and_then(|u| u.parse().ok());
        Ok(user.filter(|_| ttl > 0).map(|user_id| Holder {
            user_id,
            until_ms: chrono::Utc::now().timestamp_millis() + ttl,
        }))
    }

    /// Loads a concert's state into Redis: seat states first (sold, unpaid reservations; never
    /// overwriting a newer state), then the concert's info, only if no admin change came in
    /// between (`expected_version`). False when the version moved (load again).
    pub async fn warm(
        &self,
        concert: i64,
        expected_version: &str,
        load: &ConcertLoad<'_>,
    ) -> AppResult<bool> {
        let ConcertLoad { state, live_seats, sold, reserved, owned } = load;
        let mut conn = self.redis.conn().await?;
        let mut pipe = redis::pipe();
        for seat in *sold {
            pipe.cmd("SET").arg(self.seat_key(*seat)).arg("s").arg("NX").ignore();
        }
        for &ReservedSeat { seat, user, reservation, expires_ms } in *reserved {
            let until = expires_ms + RESERVATION_GRACE_MS;
            pipe.cmd("SET")
                .arg(self.seat_key(seat))
                .arg(format!("r:{user}:{reservation}"))
                .arg("PXAT")
                .arg(until)
                .arg("NX")
                .ignore();
            pipe.zadd(self.concert_key(concert, "held"), seat, until).ignore();
            pipe.zadd(self.user_key(concert, user, "holds"), seat, until).ignore();
        }
        for &OwnedSeats { user, count } in *owned {
            pipe.cmd("SET")
                .arg(self.user_key(concert, user, "owned"))
                .arg(count)
                .arg("NX")
                .ignore();
        }
        if !sold.is_empty() || !reserved.is_empty() || !owned.is_empty() {
            let _: () = pipe.query_async(&mut conn).await?;
        }
        let mut inv = WARM.prepare_invoke();
        inv.key(self.concert_key(concert, "info"))
            .key(self.concert_key(concert, "seats"))
            .key(self.concert_key(concert, "ver"))
            .arg(expected_version)
            .arg(state.open_ms)
            .arg(state.close_ms)
            .arg(&state.status)
            .arg(if state.deleted { "1" } else { "0" })
            .arg(if state.queue_enabled { "1" } else { "0" });
        for seat in *live_seats {
            inv.arg(*seat);
        }
        let ok: i64 = inv.invoke_async(&mut conn).await?;
        Ok(ok == 1)
    }
}
