//! Seat holds in Redis. Every seat has at most one state key, `seat:{c}:{id}` (`c` its
//! concert):
//!
//! | value | meaning | expiry |
//! |---|---|---|
//! | `h:{user}` | held by the user | `HOLD_TTL_SECS` |
//! | `c:{user}:{hold expiry ms}` | the holder is checking out | 35 s (`CLAIM_TTL_MS`) |
//! | `r:{user}:{reservation}` | in the user's unpaid reservation | the reservation's expiry + grace |
//! | `w:{entry}` | kept for a waitlist entry until its quantity is free | none |
//! | `s` | sold | none |
//!
//! Per concert:
//! - `concert:{c}:info`: sale window, status, and the layout the seat states follow; its
//!   presence means the concert's seat states were loaded from the database;
//! - `concert:{c}:index`: live seat id → its place in the layout;
//! - `concert:{c}:avail`: every seat's state, 2 bits a seat in layout order (0 AVAILABLE,
//!   1 HELD, 2 RESERVED, 3 SOLD), always what the state keys say;
//! - `concert:{c}:aver`: the availability version, one step per change of `avail`;
//! - `concert:{c}:changes`: a stream of those changes, entry id `{version}-0`, trimmed to
//!   the retained window;
//! - `concert:{c}:held` (seat → expiry): what may expire, for the seat map and the sweeper
//!   that notices expired holds (Redis drops the keys silently);
//! - `concert:{c}:ver`: the catalogue version, changed by admin edits;
//! - `concert:{c}:wl…`: the waitlist (docs/WAITLIST.md);
//! - per user `concert:{c}:user:{u}:holds` (seat → expiry; the key expires with its last
//!   member) and `…:owned` (seats in confirmed reservations; gone at zero), for the per-user
//!   limit;
//! - abuse controls: `concert:{c}:user:{u}:rate` and `concert:{c}:rate:ip:{address}`, the
//!   hold attempts of the account and of the client address at this concert in the current
//!   window, expiring with the window.
//!
//! `{c}` is a Redis Cluster hash tag: every key of a concert, its seats' and its waiting
//! room's (`queue:{c}:…`) live in one slot, so every script here touches one slot. What spans
//! concerts is kept out of the scripts, each a key of its own:
//! - `cooldowns`: the accounts cooled down (their checkouts kept ending unpaid), account →
//!   end in ms, cut to the running ones on each write and expiring with the last; every
//!   instance keeps a copy (refreshed every second) that holds and checkouts check first;
//! - `avail:live`: the concerts whose states are loaded, for the sweeper;
//! - `waitlist:notices`: a stream of events for fans' waitlist streams (an offer made, an
//!   entry ended), entry ids Redis assigns, trimmed to about [`WAITLIST_NOTICES_KEPT`]
//!   entries; every instance with a fan's waitlist stream open follows it.
//!
//! Keys exist only for concerts, seats and users the database has, and are bounded by them. A
//! deleted concert's keys become a tombstone (`info.deleted`, so reads answer "gone" without
//! the database) that expires after `GONE_TTL_MS`; nothing is written for an unknown id.
//! Every change of several keys is one Lua script, so it is atomic; the database stays the
//! authority (a unique index refuses a second active reservation of a seat whatever Redis says).

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, RwLock},
};

use deadpool_redis::redis::{self, Script, Value};

use super::redis::RedisClient;
use crate::error::AppResult;

/// Milliseconds a seat in an unpaid reservation stays marked after the reservation's expiry,
/// so the expiry sweeper (not the TTL) ends it.
pub const RESERVATION_GRACE_MS: i64 = 60_000;
/// How long a checkout's claim on its seats lasts: 5 s beyond the longest a checkout can run
/// (every request is cut at `router::REQUEST_TIMEOUT`, 30 s). A checkout whose instance died
/// between its claim and its reservation gives the seats back to the sale that soon (it was a
/// minute: the chaos benchmark saw seats out of a sale for that long after a SIGKILL).
pub const CLAIM_TTL_MS: i64 = 35_000;
/// Milliseconds a deleted concert's keys stay (its tombstone): long enough for every live
/// stream to learn of the deletion, short enough that deleted concerts do not pile up.
pub const GONE_TTL_MS: i64 = 3_600_000;

/// The shape of the per-concert keys this code writes (`info.fmt`); a concert loaded by an
/// older shape is loaded again.
const FORMAT: &str = "2";

const NOW: &str = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n";

/// Keeps `avail` equal to what the seats' state keys say. Scripts that change state keys pass
/// `KEYS[1..4]` = index, avail, aver, changes and `ARGV[1]` = the retained window, call `note`
/// after each change of a seat's key and `publish` once at the end: one version step and one
/// stream entry (`sid:index:state,…`) per script run that changed anything.
const AVAIL: &str = r"
local changes = {}
local function state_of(v)
    if not v then return 0 end
    local k = string.sub(v, 1, 2)
    if k == 'h:' or k == 'c:' or k == 'w:' then return 1 end
    if k == 'r:' then return 2 end
    if v == 's' then return 3 end
    return 0
end
local function note_at(sid, idx, v)
    local s = state_of(v)
    local old = redis.call('BITFIELD', KEYS[2], 'SET', 'u2', '#' .. idx, s)[1]
    if old ~= s then changes[#changes + 1] = sid .. ':' .. idx .. ':' .. s end
end
local function note(sid, v)
    local idx = redis.call('HGET', KEYS[1], sid)
    if idx then note_at(sid, idx, v) end
end
local function publish()
    if #changes == 0 then return end
    local v = redis.call('INCR', KEYS[3])
    redis.pcall('XADD', KEYS[4], 'MAXLEN', '~', ARGV[1], string.format('%d-0', v), 'c', table.concat(changes, ','))
end
local function expire_with_last(key)
    local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]
    if last then redis.call('PEXPIREAT', key, last) end
end
-- The waitlist step (issue 18, docs/WAITLIST.md): every script that frees a seat passes it to
-- `serve`, which gives it to the earliest waiting entry it matches (a hold in the fan's name,
-- or a `w:{entry}` mark while the entry's quantity is not there yet) and makes only the rest
-- AVAILABLE. Keys of the concert are derived from KEYS[1] (`…concert:{id}:index`): they all
-- carry its hash tag `{id}`, so on a Redis Cluster they live in the slot of the script's keys.
local CB = string.sub(KEYS[1], 1, #KEYS[1] - 5)
local PFX, TAG = string.match(CB, '^(.*)concert:({%d+}):$')
local SP = (PFX or '') .. 'seat:' .. (TAG or '') .. ':'
local function wl_clock()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function split(csv)
    local out = {}
    for x in string.gmatch(csv or '', '[^,]+') do out[#out + 1] = x end
    return out
end
-- `need` of the matching free seats (indices into `free`, in layout order): a run of
-- consecutive places in one row first, else the first in layout order.
local function choose(free, match, need)
    for a = 1, #match - need + 1 do
        local ok = true
        for b = a + 1, a + need - 1 do
            local p, q = free[match[b - 1]], free[match[b]]
            if q.idx ~= p.idx + 1 or q.r ~= p.r then ok = false break end
        end
        if ok then
            local out = {}
            for b = a, a + need - 1 do out[#out + 1] = match[b] end
            return out
        end
    end
    local out = {}
    for b = 1, need do out[#out + 1] = match[b] end
    return out
end
local function seat_info(sid)
    local idx = redis.call('HGET', KEYS[1], sid)
    if not idx then return nil end
    return {sid = sid, idx = tonumber(idx), g = redis.call('HGET', CB .. 'wlg', sid) or '',
        r = redis.call('HGET', CB .. 'wlr', sid) or ''}
end
local function serve(cands)
    local free = {}
    local waiting = redis.call('ZCARD', CB .. 'wl') > 0
    for _, sid in ipairs(cands) do
        if not redis.call('GET', SP .. sid) then
            if waiting then
                local f = seat_info(sid)
                if f then free[#free + 1] = f end
            else
                note(sid, nil)
            end
        end
    end
    if #free == 0 then return end
    local by_place = function(a, b) return a.idx < b.idx end
    table.sort(free, by_place)
    local now = wl_clock()
    local cfg = redis.call('HMGET', CB .. 'wlcfg', 'ttl', 'max')
    local ttl = tonumber(cfg[1] or '1800000')
    local max = tonumber(cfg[2] or '4')
    local close = tonumber(redis.call('HGET', CB .. 'info', 'close') or '0') or 0
    local exp = now + ttl
    if close > now and close < exp then exp = close end
    local entries = redis.call('ZRANGE', CB .. 'wl', 0, -1)
    for _, m in ipairs(entries) do
        if #free == 0 then break end
        local eid, uid, qty, grade = string.match(m, '^0*(%d+)|(%d+)|(%d+)|(.*)$')
        qty = tonumber(qty)
        local kept = split(redis.call('HGET', CB .. 'wlpart', eid))
        local match = {}
        for i, f in ipairs(free) do
            if grade == '' or f.g == grade then match[#match + 1] = i end
        end
        if #match > 0 then
            local need = qty - #kept
            local take = {}
            local chosen = {}
            if #match >= need then
                for _, i in ipairs(choose(free, match, need)) do chosen[#chosen + 1] = i end
            else
                for _, i in ipairs(match) do chosen[#chosen + 1] = i end
            end
            local gone = {}
            for _, i in ipairs(chosen) do
                take[#take + 1] = free[i].sid
                gone[i] = true
            end
            local rest = {}
            for i, f in ipairs(free) do
                if not gone[i] then rest[#rest + 1] = f end
            end
            free = rest
            if #kept + #take < qty then
                -- A partial match: the seats wait for this entry, never AVAILABLE.
                for _, sid in ipairs(take) do
                    redis.call('SET', SP .. sid, 'w:' .. eid)
                    note(sid, 'w:' .. eid)
                    kept[#kept + 1] = sid
                end
                redis.call('HSET', CB .. 'wlpart', eid, table.concat(kept, ','))
            else
                for _, sid in ipairs(take) do kept[#kept + 1] = sid end
                local hk = CB .. 'user:' .. uid .. ':holds'
                redis.call('ZREMRANGEBYSCORE', hk, '-inf', now)
                local count = redis.call('ZCARD', hk)
                    + tonumber(redis.call('GET', CB .. 'user:' .. uid .. ':owned') or '0')
                redis.call('ZREM', CB .. 'wl', m)
                redis.call('HDEL', CB .. 'wlpart', eid)
                if count + qty > max then
                    -- The fan bought or holds seats since joining: the entry ends, its seats
                    -- go on to the next entries.
                    for _, sid in ipairs(kept) do
                        redis.call('DEL', SP .. sid)
                        local f = seat_info(sid)
                        if f then free[#free + 1] = f end
                    end
                    table.sort(free, by_place)
                    redis.call('HSET', CB .. 'wlout', eid, 'X')
                else
                    local value = 'h:' .. uid
                    for _, sid in ipairs(kept) do
                        redis.call('SET', SP .. sid, value, 'PXAT', exp)
                        redis.call('ZADD', CB .. 'held', exp, sid)
                        redis.call('ZADD', hk, exp, sid)
                        note(sid, value)
                    end
                    if count == 0 then
                        redis.call('PEXPIREAT', hk, exp)
                    else
                        redis.call('PEXPIREAT', hk, exp, 'GT')
                    end
                    redis.call('ZADD', CB .. 'wloff', exp, eid)
                    redis.call('HSET', CB .. 'wlofs', eid, uid .. '|' .. table.concat(kept, ','))
                    redis.call('HSET', CB .. 'wlout', eid,
                        'O|' .. exp .. '|' .. now .. '|' .. table.concat(kept, ','))
                end
            end
        end
    end
    for _, f in ipairs(free) do note_at(f.sid, f.idx, nil) end
end
-- Offers past their expiry: `E` (expired) unless the fan is checking out (looked at again a
-- minute later) or bought the seats (`P`).
local function end_offers(now)
    local due = redis.call('ZRANGEBYSCORE', CB .. 'wloff', '-inf', now, 'LIMIT', 0, 100)
    for _, eid in ipairs(due) do
        local v = redis.call('HGET', CB .. 'wlofs', eid) or ''
        local uid, csv = string.match(v, '^(%d+)|(.*)$')
        local live, sold = false, false
        for _, sid in ipairs(split(csv)) do
            local x = redis.call('GET', SP .. sid)
            if x == 's' then
                sold = true
            elseif x and uid and string.sub(x, 3, 3 + #uid) == uid .. ':' then
                live = true
            end
        end
        if live then
            redis.call('ZADD', CB .. 'wloff', now + 60000, eid)
        else
            redis.call('ZREM', CB .. 'wloff', eid)
            redis.call('HDEL', CB .. 'wlofs', eid)
            redis.call('HSET', CB .. 'wlout', eid, sold and 'P' or 'E')
        end
    end
end
local function sweep(held, prefix, now)
    local due = redis.call('ZRANGEBYSCORE', held, '-inf', now, 'LIMIT', 0, 1000)
    local freed = {}
    for _, sid in ipairs(due) do
        local v = redis.call('GET', prefix .. sid)
        if not v or v == 's' then
            if v then note(sid, v) else freed[#freed + 1] = sid end
            redis.call('ZREM', held, sid)
        end
    end
    serve(freed)
    end_offers(now)
end
";

fn script(parts: &[&str]) -> Script {
    Script::new(&parts.concat())
}

static HOLD: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        NOW,
        AVAIL,
        "local FORMAT = '",
        FORMAT,
        "'",
        r"
        -- The gate, before anything else (a cooled-down account was refused before the call):
        -- the hold velocity of the account and of the client address at this concert
        -- (incremented, then checked: atomic).
        if ARGV[5] == '1' then
            local window = tonumber(ARGV[8])
            local function over(key, limit)
                if limit == 0 then return 0 end
                local c = redis.call('INCR', key)
                if c == 1 then redis.call('PEXPIRE', key, window) end
                if c <= limit then return 0 end
                local left = redis.call('PTTL', key)
                if left < 0 then
                    redis.call('PEXPIRE', key, window)
                    left = window
                end
                return left
            end
            local wait = math.max(over(KEYS[11], tonumber(ARGV[6])), over(KEYS[12], tonumber(ARGV[7])))
            if wait > 0 then return {'RATE', tostring(wait)} end
        end
        local info = redis.call('HMGET', KEYS[5], 'open', 'close', 'status', 'deleted', 'queue', 'fmt')
        if info[6] ~= FORMAT then return {'MISS'} end
        local ver = redis.call('GET', KEYS[9]) or ''
        if info[4] == '1' then return {'GONE'} end
        if info[3] ~= 'SCHEDULED' then return {'STATUS'} end
        if now < tonumber(info[1]) then return {'NOT_OPEN'} end
        if now >= tonumber(info[2]) then return {'CLOSED'} end
        local uid = ARGV[2]
        if info[5] == '1' then
            local admitted = redis.call('ZSCORE', KEYS[10], uid)
            if not admitted or tonumber(admitted) <= now then return {'QUEUE'} end
        end
        -- Expired holds first go through the waitlist step (never straight to this caller).
        sweep(KEYS[6], SP, now)
        if #changes > 0 then
            publish()
            changes = {}
        end
        local mine = 'h:' .. uid
        local base = 12
        local n = #KEYS - base
        local fresh = {}
        local expiries = {}
        local places = {}
        for i = 1, n do
            local sid = ARGV[8 + i]
            places[i] = redis.call('HGET', KEYS[1], sid)
            if not places[i] then return {'NO_SEAT', sid} end
            local v = redis.call('GET', KEYS[base + i])
            if not v then
                fresh[#fresh + 1] = i
            elseif v == mine then
                expiries[i] = now + redis.call('PTTL', KEYS[base + i])
            else
                local kind = string.sub(v, 1, 2)
                if kind == 'h:' or kind == 'w:' or (kind == 'c:' and string.sub(v, 3, 2 + #uid + 1) ~= uid .. ':') then
                    return {'LOCKED', sid}
                end
                return {'RESERVED', sid}
            end
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now)
        local held = redis.call('ZCARD', KEYS[7])
        local owned = tonumber(redis.call('GET', KEYS[8]) or '0')
        if held + #fresh + owned > tonumber(ARGV[4]) then return {'LIMIT', tostring(held + owned)} end
        local ttl = tonumber(ARGV[3])
        local exp = now + ttl
        for _, i in ipairs(fresh) do
            local sid = ARGV[8 + i]
            redis.call('SET', KEYS[base + i], mine, 'PX', ttl)
            redis.call('ZADD', KEYS[6], exp, sid)
            redis.call('ZADD', KEYS[7], exp, sid)
            note_at(sid, places[i], mine)
            expiries[i] = exp
        end
        -- The user's key expires with its last member: every writer keeps it so, so one new
        -- member only moves the expiry later (GT), and a key that was empty gets it anew.
        if #fresh > 0 then
            if held == 0 then
                redis.call('PEXPIREAT', KEYS[7], exp)
            else
                redis.call('PEXPIREAT', KEYS[7], exp, 'GT')
            end
        end
        publish()
        local out = {'OK', ver}
        for i = 1, n do out[#out + 1] = tostring(expiries[i]) end
        return out",
    ])
});

static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        AVAIL,
        r"
        local v = redis.call('GET', KEYS[5])
        if not v then return 'NONE' end
        if v == 'h:' .. ARGV[2] then
            redis.call('DEL', KEYS[5])
            redis.call('ZREM', KEYS[6], ARGV[3])
            redis.call('ZREM', KEYS[7], ARGV[3])
            serve({ARGV[3]})
            publish()
            return 'OK'
        end
        local kind = string.sub(v, 1, 2)
        if kind == 'r:' or kind == 's' or (kind == 'c:' and string.sub(v, 3, 2 + #ARGV[2] + 1) == ARGV[2] .. ':') then
            return 'RESERVED'
        end
        return 'OTHER'",
    ])
});

static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{NOW}
        local n = #KEYS
        local mine = 'h:' .. ARGV[1]
        local expiries = {{}}
        for i = 1, n do
            local v = redis.call('GET', KEYS[i])
            if v ~= mine then
                if v and (string.sub(v, 1, #ARGV[1] + 3) == 'c:' .. ARGV[1] .. ':' or string.sub(v, 1, #ARGV[1] + 3) == 'r:' .. ARGV[1] .. ':') then
                    return {{'DUP', ARGV[1 + i]}}
                end
                return {{'NOT_HELD', ARGV[1 + i]}}
            end
            expiries[i] = now + redis.call('PTTL', KEYS[i])
        end
        -- Held and being checked out look the same on the map: nothing to note.
        for i = 1, n do
            redis.call('SET', KEYS[i], 'c:' .. ARGV[1] .. ':' .. expiries[i], 'PX', {CLAIM_TTL_MS})
        end
        return {{'OK'}}"
    ))
});

static REVERT_CLAIM: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        NOW,
        AVAIL,
        r"
        local prefix = 'c:' .. ARGV[2] .. ':'
        local n = #KEYS - 6
        local freed = {}
        for i = 1, n do
            local key = KEYS[4 + i]
            local sid = ARGV[2 + i]
            local v = redis.call('GET', key)
            if v and string.sub(v, 1, #prefix) == prefix then
                local exp = tonumber(string.sub(v, #prefix + 1))
                if exp > now then
                    redis.call('SET', key, 'h:' .. ARGV[2], 'PXAT', exp)
                else
                    redis.call('DEL', key)
                    redis.call('ZREM', KEYS[n + 5], sid)
                    redis.call('ZREM', KEYS[n + 6], sid)
                    freed[#freed + 1] = sid
                end
            end
        end
        serve(freed)
        publish()
        return 'OK'",
    ])
});

static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        AVAIL,
        r"
        local n = #KEYS - 6
        local value = 'r:' .. ARGV[2] .. ':' .. ARGV[3]
        for i = 1, n do
            local sid = ARGV[4 + i]
            redis.call('SET', KEYS[4 + i], value, 'PXAT', ARGV[4])
            redis.call('ZADD', KEYS[n + 5], ARGV[4], sid)
            redis.call('ZADD', KEYS[n + 6], ARGV[4], sid)
            note(sid, value)
        end
        expire_with_last(KEYS[n + 6])
        publish()
        return 'OK'",
    ])
});

static END_RESERVATION: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        AVAIL,
        r"
        local n = #KEYS - 7
        local value = 'r:' .. ARGV[2] .. ':' .. ARGV[3]
        local claim = 'c:' .. ARGV[2] .. ':'
        local mode = ARGV[4]
        local freed = {}
        local fixed = 0
        for i = 1, n do
            local sid = ARGV[4 + i]
            local key = KEYS[4 + i]
            local v = redis.call('GET', key)
            -- A reconfirmation changes only seats still marked for this reservation.
            if mode ~= 'reconfirm' or v == value then
                if mode == 'confirm' or mode == 'reconfirm' then
                    redis.call('SET', key, 's')
                    fixed = fixed + 1
                elseif mode == 'cancel' then
                    if v == 's' or v == value then redis.call('DEL', key) end
                elseif v == value or (v and string.sub(v, 1, #claim) == claim) then
                    -- An expiry also ends the owner's claim: a checkout whose instance died
                    -- between claiming the seats and marking them reserved left it.
                    redis.call('DEL', key)
                end
                redis.call('ZREM', KEYS[n + 5], sid)
                redis.call('ZREM', KEYS[n + 6], sid)
                local now_v = redis.call('GET', key)
                if now_v then note(sid, now_v) else freed[#freed + 1] = sid end
            end
        end
        serve(freed)
        local owned = KEYS[n + 7]
        if (mode == 'confirm' or mode == 'reconfirm') and fixed > 0 then
            redis.call('INCRBY', owned, fixed)
        elseif mode == 'cancel' and redis.call('EXISTS', owned) == 1 then
            if redis.call('DECRBY', owned, n) <= 0 then redis.call('DEL', owned) end
        end
        publish()
        return 'OK'",
    ])
});

/// Loads a concert: the database's sold and reserved seats (over holds only when forced, after
/// the database refused what Redis allowed), then the index and `avail` rebuilt from the state
/// keys. With the same layout the differences are published as changes (so a reload also
/// repairs); with a new layout (or none before) a `l` entry tells followers to start over.
static WARM: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        NOW,
        AVAIL,
        "local FORMAT = '",
        FORMAT,
        "'\n",
        &format!("local GONE_TTL_MS = {GONE_TTL_MS}\n"),
        r"
        if (redis.call('GET', KEYS[7]) or '') ~= ARGV[3] then return 0 end
        local prefix = ARGV[2]
        local force = ARGV[11] == '1'
        local n, ns, nr = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
        local base = 14
        for i = 1, ns do
            local sid = ARGV[base + n + i]
            local v = redis.call('GET', prefix .. sid)
            if not v or (force and v ~= 's') then
                redis.call('SET', prefix .. sid, 's')
                redis.call('ZREM', KEYS[6], sid)
            end
        end
        for j = 0, nr - 1 do
            local p = base + n + ns + 3 * j
            local sid = ARGV[p + 1]
            local v = redis.call('GET', prefix .. sid)
            if not v or (force and v ~= ARGV[p + 2]) then
                redis.call('SET', prefix .. sid, ARGV[p + 2], 'PXAT', ARGV[p + 3])
                redis.call('ZADD', KEYS[6], ARGV[p + 3], sid)
            end
        end
        local old_fmt = redis.call('HGET', KEYS[5], 'fmt')
        local old_layout = redis.call('HGET', KEYS[5], 'layout')
        local old = redis.call('GET', KEYS[2])
        redis.call('DEL', KEYS[1])
        local states = {}
        local args = {}
        for i = 1, n do
            local sid = ARGV[base + i]
            states[i] = state_of(redis.call('GET', prefix .. sid))
            args[#args + 1] = sid
            args[#args + 1] = i - 1
            if #args >= 2000 then
                redis.call('HSET', KEYS[1], unpack(args))
                args = {}
            end
        end
        if #args > 0 then redis.call('HSET', KEYS[1], unpack(args)) end
        local bytes, chunks = {}, {}
        for b = 0, math.ceil(n / 4) - 1 do
            local byte = 0
            for k = 1, 4 do byte = byte * 4 + (states[4 * b + k] or 0) end
            bytes[#bytes + 1] = byte
            if #bytes == 4000 then
                chunks[#chunks + 1] = string.char(unpack(bytes))
                bytes = {}
            end
        end
        if #bytes > 0 then chunks[#chunks + 1] = string.char(unpack(bytes)) end
        local packed = table.concat(chunks)
        local same = old_fmt == FORMAT and old_layout == ARGV[9] and old ~= false and #old == #packed
        if same then
            for i = 1, n do
                local byte = string.byte(old, math.floor((i - 1) / 4) + 1)
                local was = math.floor(byte / 4 ^ (3 - (i - 1) % 4)) % 4
                if was ~= states[i] then
                    changes[#changes + 1] = ARGV[base + i] .. ':' .. (i - 1) .. ':' .. states[i]
                end
            end
        end
        redis.call('SET', KEYS[2], packed)
        if redis.call('EXISTS', KEYS[3]) == 0 then
            local start = tonumber(t[1]) * 1000000 + tonumber(t[2])
            local last = redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', 1)[1]
            if last then start = math.max(start, tonumber(string.match(last[1], '^(%d+)')) + 1) end
            redis.call('SET', KEYS[3], string.format('%d', start))
        end
        if same then
            publish()
        else
            local v = redis.call('INCR', KEYS[3])
            redis.pcall('XADD', KEYS[4], 'MAXLEN', '~', ARGV[1], string.format('%d-0', v), 'l', ARGV[9])
        end
        redis.call('HSET', KEYS[5], 'open', ARGV[4], 'close', ARGV[5], 'status', ARGV[6], 'deleted', ARGV[7],
            'queue', ARGV[8], 'layout', ARGV[9], 'n', n, 'fmt', FORMAT)
        redis.call('DEL', KEYS[8])
        if ARGV[7] ~= '1' and redis.call('ZCARD', CB .. 'wl') > 0 then
            changes = {}
            local freed = {}
            for i = 1, n do
                if states[i] == 0 then freed[#freed + 1] = ARGV[base + i] end
            end
            serve(freed)
            publish()
        end
        if ARGV[7] == '1' then
            for i = 1, 7 do redis.call('PEXPIRE', KEYS[i], GONE_TTL_MS) end
            for _, k in ipairs({'wl', 'wlg', 'wlr', 'wlpart', 'wloff', 'wlofs', 'wlout', 'wlcfg'}) do
                redis.call('PEXPIRE', CB .. k, GONE_TTL_MS)
            end
        end
        return 1",
    ])
});

/// Notices expired holds (their keys are gone) and publishes them.
static SWEEP: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        NOW,
        AVAIL,
        r"
        sweep(KEYS[5], ARGV[2], now)
        publish()
        return {#changes, redis.call('ZCARD', KEYS[5]), redis.call('EXISTS', KEYS[6])}",
    ])
});

/// The availability: sweeps first (so an expired hold never shows), then answers the version
/// and, unless it is the one the caller has, the states.
static READ: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        NOW,
        AVAIL,
        "local FORMAT = '",
        FORMAT,
        "'",
        r"
        local info = redis.call('HMGET', KEYS[6], 'fmt', 'deleted', 'layout', 'n')
        if info[1] ~= FORMAT then return {'MISS'} end
        if info[2] == '1' then return {'GONE'} end
        sweep(KEYS[5], ARGV[2], now)
        publish()
        local v = redis.call('GET', KEYS[3]) or '0'
        if v == ARGV[3] then return {'SAME', v} end
        return {'OK', v, info[3] or '', info[4] or '0', redis.call('GET', KEYS[2]) or ''}",
    ])
});

/// A sorted set of expiries expires with its last member.
const EXPIRE_WITH_LAST: &str = "local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
    if last then redis.call('PEXPIREAT', KEYS[1], last) end";

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
    /// The account is cooled down for this many more ms (its checkouts kept ending unpaid).
    CoolingDown(u64),
    /// Too many hold attempts from the account or the client address; the window ends in
    /// this many ms.
    TooFast(u64),
}

/// Hold attempts allowed per window, by account and by client address (0: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldVelocity {
    pub per_user: u32,
    pub per_ip: u32,
    pub window_ms: u64,
}

/// Who attempts a hold, for the velocity limits.
#[derive(Debug, Clone, Copy)]
pub struct HoldAttempt<'a> {
    /// The client address, as the key of its counter.
    pub client: &'a str,
    pub velocity: HoldVelocity,
    /// Whether this call counts as an attempt (a retry of the same request does not).
    pub count: bool,
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
    /// The account is cooled down for this many more ms.
    CoolingDown(u64),
}

/// How a reservation ended, for its seats' keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationEnd {
    Expired,
    Confirmed,
    Canceled,
    /// Confirmed in the database, but Redis may not have been told (the confirming instance
    /// died in between): seats still marked for this reservation become sold, others stay.
    Reconfirmed,
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
    /// The layout's version and its seat ids in layout order.
    pub layout: &'a str,
    pub live_seats: &'a [i64],
    pub sold: &'a [i64],
    pub reserved: &'a [ReservedSeat],
    pub owned: &'a [OwnedSeats],
    /// The database's states win over holds (after it refused what Redis allowed).
    pub force: bool,
    /// Each live seat's grade and row (section and row), for the waitlist step.
    pub places: &'a [SeatPlace],
    /// The concert's waiting entries, and its offered ones with their expiry (ms): put back
    /// into the step (unchanged when already there), so a Redis flush loses no entry.
    pub waiting: &'a [WaitingEntry],
    pub offered: &'a [(WaitingEntry, i64)],
}

/// A seat's grade and row, as the waitlist step matches and groups seats.
#[derive(Debug, Clone)]
pub struct SeatPlace {
    pub seat: i64,
    pub grade: String,
    pub row: String,
}

/// A waitlist entry as the step serves it (issue 18).
#[derive(Debug, Clone)]
pub struct WaitingEntry {
    pub id: i64,
    pub user: i64,
    pub quantity: u32,
    pub grade: Option<String>,
    /// Its place in the order of service: `created_at` in microseconds.
    pub created_us: i64,
}

/// What mirroring a new entry found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    Waiting,
    /// At least the quantity of matching seats is AVAILABLE: nothing was added.
    SeatsAvailable,
}

/// An outcome of the step for Postgres to record (`concert:{id}:wlout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitlistEvent {
    /// Offered: the hold's expiry and the release time (ms), and the seats.
    Offered {
        expires_ms: i64,
        released_ms: i64,
        seats: Vec<i64>,
    },
    Expired,
    Purchased,
    /// The fan could no longer take the quantity under the per-user limit.
    Cancelled,
}

impl WaitlistEvent {
    fn parse(v: &str) -> Option<Self> {
        let mut p = v.split('|');
        Some(match p.next()? {
            "O" => WaitlistEvent::Offered {
                expires_ms: p.next()?.parse().ok()?,
                released_ms: p.next()?.parse().ok()?,
                seats: p.next()?.split(',').filter_map(|s| s.parse().ok()).collect(),
            },
            "E" => WaitlistEvent::Expired,
            "P" => WaitlistEvent::Purchased,
            "X" => WaitlistEvent::Cancelled,
            _ => return None,
        })
    }
}

fn waiting_member(e: &WaitingEntry) -> String {
    format!("{:015}|{}|{}|{}", e.id, e.user, e.quantity, e.grade.as_deref().unwrap_or(""))
}

/// Adds a waiting entry unless enough matching seats are AVAILABLE; matching AVAILABLE seats
/// (fewer than the quantity) are kept for it at once, so none stays public while it waits.
static JOIN: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        AVAIL,
        r"
        local qty = tonumber(ARGV[5])
        local grade = ARGV[6]
        local avail = redis.call('GET', KEYS[2]) or ''
        local idx = redis.call('HGETALL', KEYS[1])
        local found = {}
        for i = 1, #idx, 2 do
            local sid, place = idx[i], tonumber(idx[i + 1])
            local byte = string.byte(avail, math.floor(place / 4) + 1) or 0
            local st = math.floor(byte / 4 ^ (3 - place % 4)) % 4
            if st == 0 and not redis.call('GET', SP .. sid)
                and (grade == '' or (redis.call('HGET', CB .. 'wlg', sid) or '') == grade) then
                found[#found + 1] = sid
            end
        end
        if #found >= qty then return 'AVAILABLE' end
        redis.call('HSET', CB .. 'wlcfg', 'ttl', ARGV[3], 'max', ARGV[4])
        redis.call('ZADD', CB .. 'wl', ARGV[7], ARGV[2])
        serve(found)
        publish()
        return 'OK'",
    ])
});

/// Takes an entry out of the step: its kept seats and its offer's holds are released
/// through the step (to the next entries).
static LEAVE: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        AVAIL,
        r"
        local eid, uid = ARGV[3], ARGV[4]
        redis.call('ZREM', CB .. 'wl', ARGV[2])
        local freed = {}
        for _, sid in ipairs(split(redis.call('HGET', CB .. 'wlpart', eid))) do
            local key = SP .. sid
            if redis.call('GET', key) == 'w:' .. eid then
                redis.call('DEL', key)
                freed[#freed + 1] = sid
            end
        end
        local offer = redis.call('HGET', CB .. 'wlofs', eid) or ''
        local csv = string.match(offer, '^%d+|(.*)$')
        local hk = CB .. 'user:' .. uid .. ':holds'
        for _, sid in ipairs(split(csv)) do
            local key = SP .. sid
            if redis.call('GET', key) == 'h:' .. uid then
                redis.call('DEL', key)
                redis.call('ZREM', CB .. 'held', sid)
                redis.call('ZREM', hk, sid)
                freed[#freed + 1] = sid
            end
        end
        redis.call('HDEL', CB .. 'wlpart', eid)
        redis.call('HDEL', CB .. 'wlofs', eid)
        redis.call('ZREM', CB .. 'wloff', eid)
        redis.call('HDEL', CB .. 'wlout', eid)
        serve(freed)
        publish()
        return #freed",
    ])
});

/// Deletes a recorded outcome unless a newer one replaced it.
static FORGET_EVENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
        return 0",
    )
});

/// About how many events `waitlist:notices` keeps: enough for every instance's follower to read
/// them in time (offers are few), bounded whatever happens.
pub const WAITLIST_NOTICES_KEPT: u64 = 10_000;

/// One event of `waitlist:notices`, for one fan's waitlist stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitlistNotice {
    /// The stream entry's id (`{ms}-{n}`).
    pub id: String,
    pub user: i64,
    /// The SSE event name (`offer`, `status`).
    pub kind: String,
    /// The event's JSON.
    pub data: String,
}

/// Who holds a seat, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    pub user_id: i64,
    /// Milliseconds since the epoch.
    pub until_ms: i64,
}

/// A concert's seat states at one availability version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityData {
    pub version: u64,
    /// The layout the states follow (its `version`).
    pub layout: String,
    pub count: usize,
    /// 2 bits a seat in layout order (`domain::availability`).
    pub states: Vec<u8>,
}

/// What reading the availability found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AvailabilityRead {
    /// The concert's state is not in Redis yet.
    Miss,
    Deleted,
    /// Still at the version the caller has.
    Unchanged(u64),
    Current(AvailabilityData),
}

/// One seat's new state in a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatChange {
    pub seat: i64,
    /// Its place in the layout.
    pub index: u32,
    /// The state's code (`SeatStatus::code`).
    pub state: u8,
}

/// One entry of a concert's change stream: one availability version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEntry {
    pub version: u64,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    Seats(Vec<SeatChange>),
    /// The states were rebuilt (a load, or a new layout): read them again.
    Reset {
        layout: String,
    },
}

/// What one sweep of a concert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Seats whose hold (or reservation mark) ran out.
    pub freed: u64,
    /// Seats still waiting to expire.
    pub pending: u64,
    /// Whether the concert's state is still loaded.
    pub loaded: bool,
}

/// Seat hold operations on Redis.
#[derive(Clone)]
pub struct Holds {
    redis: RedisClient,
    /// How many changes each concert's stream keeps (`AVAILABILITY_WINDOW`).
    window: u64,
    /// The accounts cooled down right now (user → end, ms): this instance's copy of the
    /// `cooldowns` registry, so holds and checkouts check it without a round trip.
    cooling: Arc<RwLock<HashMap<i64, i64>>>,
}

impl Holds {
    pub fn new(redis: RedisClient, window: u64) -> Self {
        Holds { redis, window, cooling: Arc::default() }
    }

    /// The state key of a seat of `concert` (`seat:{concert}:{seat}`).
    pub fn seat_key(&self, concert: i64, seat: i64) -> String {
        self.redis.key_fmt(format_args!("seat:{{{concert}}}:{seat}"))
    }

    /// What every seat key of `concert` starts with.
    fn seat_prefix(&self, concert: i64) -> String {
        self.redis.key_fmt(format_args!("seat:{{{concert}}}:"))
    }

    /// A key of `concert` (`concert:{concert}:{part}`).
    pub fn concert_key(&self, concert: i64, part: &str) -> String {
        self.redis.key_fmt(format_args!("concert:{{{concert}}}:{part}"))
    }

    /// A key of `user` at `concert` (`concert:{concert}:user:{user}:{part}`).
    pub fn user_key(&self, concert: i64, user: i64, part: &str) -> String {
        self.redis.key_fmt(format_args!("concert:{{{concert}}}:user:{user}:{part}"))
    }

    /// Glob patterns matching every key of `concert`: its own, its seats' and its waiting
    /// room's (all in the concert's hash slot).
    pub fn concert_patterns(&self, concert: i64) -> [String; 3] {
        [
            self.redis.key_fmt(format_args!("concert:{{{concert}}}:*")),
            self.redis.key_fmt(format_args!("seat:{{{concert}}}:*")),
            self.redis.key_fmt(format_args!("queue:{{{concert}}}:*")),
        ]
    }

    fn cooldowns_key(&self) -> String {
        self.redis.key("cooldowns")
    }

    fn live_key(&self) -> String {
        self.redis.key("avail:live")
    }

    /// How long the account stays cooled down (ms), if it is, by this instance's copy.
    pub fn cooling_down(&self, user: i64) -> Option<u64> {
        let until = *self.cooling.read().unwrap_or_else(|e| e.into_inner()).get(&user)?;
        let left = until - chrono::Utc::now().timestamp_millis();
        (left > 0).then_some(left as u64)
    }

    /// Reads the cool-down registry into this instance's copy (`workers::cooldowns`, every second).
    pub async fn refresh_cooldowns(&self) -> AppResult<usize> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut conn = self.redis.conn().await?;
        let running: Vec<(i64, i64)> = redis::cmd("ZRANGE")
            .arg(self.cooldowns_key())
            .arg(format!("({now}"))
            .arg("+inf")
            .arg("BYSCORE")
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await?;
        let n = running.len();
        *self.cooling.write().unwrap_or_else(|e| e.into_inner()) = running.into_iter().collect();
        Ok(n)
    }

    fn waitlist_notices_key(&self) -> String {
        self.redis.key("waitlist:notices")
    }

    /// Starts an invocation of a script that changes seat states: the four availability keys
    /// and the window come first.
    fn changing(&self, script: &'static Script, concert: i64) -> redis::ScriptInvocation<'static> {
        let mut inv = script.prepare_invoke();
        inv.key(self.concert_key(concert, "index"))
            .key(self.concert_key(concert, "avail"))
            .key(self.concert_key(concert, "aver"))
            .key(self.concert_key(concert, "changes"))
            .arg(self.window);
        inv
    }

    /// Holds every seat or none, unless the account is cooled down (this instance's copy of
    /// the registry) or the attempt goes over a velocity limit (checked first, in the script).
    pub async fn hold(
        &self,
        concert: i64,
        user: i64,
        seats: &[i64],
        ttl_ms: i64,
        max_seats: u32,
        attempt: &HoldAttempt<'_>,
    ) -> AppResult<HoldOutcome> {
        if let Some(ms) = self.cooling_down(user) {
            return Ok(HoldOutcome::CoolingDown(ms));
        }
        let mut inv = self.changing(&HOLD, concert);
        let velocity = attempt.velocity;
        inv.key(self.concert_key(concert, "info"))
            .key(self.concert_key(concert, "held"))
            .key(self.user_key(concert, user, "holds"))
            .key(self.user_key(concert, user, "owned"))
            .key(self.concert_key(concert, "ver"))
            .key(super::queue::queue_key(&self.redis, concert, "active"))
            .key(self.user_key(concert, user, "rate"))
            .key(
                self.redis
                    .key_fmt(format_args!("concert:{{{concert}}}:rate:ip:{}", attempt.client)),
            )
            .arg(user)
            .arg(ttl_ms)
            .arg(max_seats)
            .arg(if attempt.count { "1" } else { "0" })
            .arg(velocity.per_user)
            .arg(velocity.per_ip)
            .arg(velocity.window_ms.max(1));
        for seat in seats {
            inv.key(self.seat_key(concert, *seat)).arg(*seat);
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
            Some("RATE") => HoldOutcome::TooFast(seat_arg(1) as u64),
            other => {
                return Err(anyhow::anyhow!("unexpected hold script reply {other:?}").into());
            }
        })
    }

    /// Compare-and-delete of the user's hold.
    pub async fn release(&self, concert: i64, user: i64, seat: i64) -> AppResult<ReleaseOutcome> {
        let mut inv = self.changing(&RELEASE, concert);
        inv.key(self.seat_key(concert, seat))
            .key(self.concert_key(concert, "held"))
            .key(self.user_key(concert, user, "holds"))
            .arg(user)
            .arg(seat);
        let mut conn = self.redis.conn().await?;
        let reply: String = inv.invoke_async(&mut conn).await?;
        Ok(match reply.as_str() {
            "OK" => ReleaseOutcome::Released,
            "NONE" => ReleaseOutcome::NotHeld,
            "RESERVED" => ReleaseOutcome::Reserved,
            _ => ReleaseOutcome::HeldByOther,
        })
    }

    /// Marks the user's held seats of `concert` as being checked out, all or none (not while
    /// the account is cooled down).
    pub async fn claim(&self, concert: i64, user: i64, seats: &[i64]) -> AppResult<ClaimOutcome> {
        if let Some(ms) = self.cooling_down(user) {
            return Ok(ClaimOutcome::CoolingDown(ms));
        }
        let mut inv = CLAIM.prepare_invoke();
        inv.arg(user);
        for seat in seats {
            inv.key(self.seat_key(concert, *seat)).arg(*seat);
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

    /// Cools the accounts down for `ms` from now (a cool-down already running starts again):
    /// at once on this instance, within a second on the others. The registry is one
    /// sorted set (user → end, ms), cut to the running cool-downs on every write and expiring
    /// with the last one.
    pub async fn start_cooldowns(&self, users: &[i64], ms: u64) -> AppResult<()> {
        if users.is_empty() {
            return Ok(());
        }
        let now = chrono::Utc::now().timestamp_millis();
        let until = now + ms.max(1) as i64;
        let key = self.cooldowns_key();
        let mut add = redis::cmd("ZADD");
        add.arg(&key).arg("GT");
        for user in users {
            add.arg(until).arg(*user);
        }
        let mut conn = self.redis.conn().await?;
        let _: () = redis::pipe()
            .atomic()
            .add_command(add)
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&key)
            .arg("-inf")
            .arg(now)
            .ignore()
            .cmd("PEXPIREAT")
            .arg(&key)
            .arg(until)
            .arg("NX")
            .ignore()
            .cmd("PEXPIREAT")
            .arg(&key)
            .arg(until)
            .arg("GT")
            .ignore()
            .query_async(&mut conn)
            .await?;
        let mut cooling = self.cooling.write().unwrap_or_else(|e| e.into_inner());
        for user in users {
            cooling.insert(*user, until);
        }
        Ok(())
    }

    /// Gives claimed seats back to their holder (the checkout failed).
    pub async fn revert_claim(&self, concert: i64, user: i64, seats: &[i64]) -> AppResult<()> {
        let mut inv = self.changing(&REVERT_CLAIM, concert);
        inv.arg(user);
        for seat in seats {
            inv.key(self.seat_key(concert, *seat)).arg(*seat);
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
        let mut inv = self.changing(&RESERVE, concert);
        inv.arg(user).arg(reservation).arg(expires_ms + RESERVATION_GRACE_MS);
        for seat in seats {
            inv.key(self.seat_key(concert, *seat)).arg(*seat);
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
            ReservationEnd::Reconfirmed => "reconfirm",
        };
        let mut inv = self.changing(&END_RESERVATION, concert);
        inv.arg(user).arg(reservation).arg(mode);
        for seat in seats {
            inv.key(self.seat_key(concert, *seat)).arg(*seat);
        }
        inv.key(self.concert_key(concert, "held"))
            .key(self.user_key(concert, user, "holds"))
            .key(self.user_key(concert, user, "owned"));
        let mut conn = self.redis.conn().await?;
        let _: String = inv.invoke_async(&mut conn).await?;
        Ok(())
    }

    /// Mirrors a new waiting entry into the step (issue 18), unless enough matching seats
    /// are AVAILABLE. `offer_ttl_ms` and `max_seats` are what its offers use.
    pub async fn waitlist_join(
        &self,
        concert: i64,
        entry: &WaitingEntry,
        offer_ttl_ms: i64,
        max_seats: u32,
    ) -> AppResult<JoinOutcome> {
        let mut inv = self.changing(&JOIN, concert);
        inv.arg(waiting_member(entry))
            .arg(offer_ttl_ms)
            .arg(max_seats)
            .arg(entry.quantity)
            .arg(entry.grade.as_deref().unwrap_or(""))
            .arg(entry.created_us);
        let mut conn = self.redis.conn().await?;
        let reply: String = inv.invoke_async(&mut conn).await?;
        Ok(if reply == "AVAILABLE" { JoinOutcome::SeatsAvailable } else { JoinOutcome::Waiting })
    }

    /// Takes the entry out of the step; its kept and offered seats go to the next entries.
    /// Returns how many seats it released.
    pub async fn waitlist_leave(&self, concert: i64, entry: &WaitingEntry) -> AppResult<u64> {
        let mut inv = self.changing(&LEAVE, concert);
        inv.arg(waiting_member(entry)).arg(entry.id).arg(entry.user);
        let mut conn = self.redis.conn().await?;
        Ok(inv.invoke_async(&mut conn).await?)
    }

    /// The step's outcomes not yet recorded in Postgres: (entry, raw value, event).
    pub async fn waitlist_events(
        &self,
        concert: i64,
    ) -> AppResult<Vec<(i64, String, WaitlistEvent)>> {
        let mut conn = self.redis.conn().await?;
        let all: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.concert_key(concert, "wlout"))
            .query_async(&mut conn)
            .await?;
        Ok(all
            .into_iter()
            .filter_map(|(k, v)| {
                let event = WaitlistEvent::parse(&v)?;
                Some((k.parse().ok()?, v, event))
            })
            .collect())
    }

    /// Forgets a recorded outcome (unless a newer one replaced it meanwhile).
    pub async fn waitlist_forget_event(
        &self,
        concert: i64,
        entry: i64,
        raw: &str,
    ) -> AppResult<()> {
        let mut conn = self.redis.conn().await?;
        let _: i64 = FORGET_EVENT
            .key(self.concert_key(concert, "wlout"))
            .arg(entry)
            .arg(raw)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    /// The concert's catalogue version, if it has one.
    pub async fn version(&self, concert: i64) -> AppResult<Option<String>> {
        let mut conn = self.redis.conn().await?;
        Ok(redis::cmd("GET").arg(self.concert_key(concert, "ver")).query_async(&mut conn).await?)
    }

    /// The concert's catalogue version, created when missing (e.g. after a Redis flush), so
    /// every instance then reloads what it cached. Only for a concert the database has: the
    /// key lives as long as the concert (a deleted one's expires with its tombstone).
    pub async fn create_version(&self, concert: i64) -> AppResult<String> {
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
    /// from the database on the next use. Both at once, so no one sees the new version with
    /// the old state still marked loaded.
    pub async fn invalidate(&self, concert: i64) -> AppResult<()> {
        let mut conn = self.redis.conn().await?;
        let _: () = redis::pipe()
            .atomic()
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

    /// Seats the user holds (unexpired, unpaid reservations included) and owns in the concert:
    /// what the per-user limit counts (issue 18, joining the waitlist).
    pub async fn user_seat_count(&self, concert: i64, user: i64) -> AppResult<u64> {
        let mut conn = self.redis.conn().await?;
        let now = chrono::Utc::now().timestamp_millis();
        let (held, owned): (u64, Option<u64>) = redis::pipe()
            .zcount(self.user_key(concert, user, "holds"), now, "+inf")
            .get(self.user_key(concert, user, "owned"))
            .query_async(&mut conn)
            .await?;
        Ok(held + owned.unwrap_or(0))
    }

    /// Who holds the seat of `concert` right now, and until when (ms), if it is held (not
    /// sold).
    pub async fn holder(&self, concert: i64, seat: i64) -> AppResult<Option<Holder>> {
        let mut conn = self.redis.conn().await?;
        let (value, ttl): (Option<String>, i64) = redis::pipe()
            .get(self.seat_key(concert, seat))
            .pttl(self.seat_key(concert, seat))
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
    /// overwriting a newer state unless forced), the availability rebuilt from them, then the
    /// concert's info, only if no admin change came in between (`expected_version`). False
    /// when the version moved (load again).
    pub async fn warm(
        &self,
        concert: i64,
        expected_version: &str,
        load: &ConcertLoad<'_>,
    ) -> AppResult<bool> {
        let ConcertLoad {
            state,
            layout,
            live_seats,
            sold,
            reserved,
            owned,
            force,
            places,
            waiting,
            offered,
        } = load;
        let mut conn = self.redis.conn().await?;
        if !waiting.is_empty() || !offered.is_empty() {
            let mut pipe = redis::pipe();
            for e in *waiting {
                pipe.zadd(self.concert_key(concert, "wl"), waiting_member(e), e.created_us)
                    .ignore();
            }
            for (e, expires_ms) in *offered {
                // An offer whose holds a flush lost ends at its expiry (nothing left to buy).
                pipe.cmd("ZADD")
                    .arg(self.concert_key(concert, "wloff"))
                    .arg("NX")
                    .arg(*expires_ms)
                    .arg(e.id)
                    .ignore();
                pipe.cmd("HSETNX")
                    .arg(self.concert_key(concert, "wlofs"))
                    .arg(e.id)
                    .arg(format!("{}|", e.user))
                    .ignore();
            }
            let _: () = pipe.query_async(&mut conn).await?;
        }
        if !places.is_empty() {
            let mut pipe = redis::pipe();
            for chunk in places.chunks(1000) {
                let grades: Vec<(i64, &str)> =
                    chunk.iter().map(|p| (p.seat, p.grade.as_str())).collect();
                let rows: Vec<(i64, &str)> =
                    chunk.iter().map(|p| (p.seat, p.row.as_str())).collect();
                pipe.hset_multiple(self.concert_key(concert, "wlg"), &grades).ignore();
                pipe.hset_multiple(self.concert_key(concert, "wlr"), &rows).ignore();
            }
            let _: () = pipe.query_async(&mut conn).await?;
        }
        let mut pipe = redis::pipe();
        let mut users = std::collections::BTreeSet::new();
        for &ReservedSeat { seat, user, expires_ms, .. } in *reserved {
            let until = expires_ms + RESERVATION_GRACE_MS;
            pipe.zadd(self.user_key(concert, user, "holds"), seat, until).ignore();
            users.insert(user);
        }
        for user in users {
            pipe.cmd("EVAL")
                .arg(EXPIRE_WITH_LAST)
                .arg(1)
                .arg(self.user_key(concert, user, "holds"))
                .ignore();
        }
        for &OwnedSeats { user, count } in *owned {
            let key = self.user_key(concert, user, "owned");
            if *force {
                pipe.set(key, count).ignore();
            } else {
                pipe.cmd("SET").arg(key).arg(count).arg("NX").ignore();
            }
        }
        if !reserved.is_empty() || !owned.is_empty() {
            let _: () = pipe.query_async(&mut conn).await?;
        }
        let mut inv = self.changing(&WARM, concert);
        inv.key(self.concert_key(concert, "info"))
            .key(self.concert_key(concert, "held"))
            .key(self.concert_key(concert, "ver"))
            .key(self.concert_key(concert, "seats"))
            .arg(self.seat_prefix(concert))
            .arg(expected_version)
            .arg(state.open_ms)
            .arg(state.close_ms)
            .arg(&state.status)
            .arg(if state.deleted { "1" } else { "0" })
            .arg(if state.queue_enabled { "1" } else { "0" })
            .arg(*layout)
            .arg(concert)
            .arg(if *force { "1" } else { "0" })
            .arg(live_seats.len())
            .arg(sold.len())
            .arg(reserved.len());
        for seat in *live_seats {
            inv.arg(*seat);
        }
        for seat in *sold {
            inv.arg(*seat);
        }
        for &ReservedSeat { seat, user, reservation, expires_ms } in *reserved {
            inv.arg(seat)
                .arg(format!("r:{user}:{reservation}"))
                .arg(expires_ms + RESERVATION_GRACE_MS);
        }
        let ok: i64 = inv.invoke_async(&mut conn).await?;
        if ok == 1 {
            // The sweeper's list is a key of its own (every concert's slot is another one).
            let _: u64 =
                redis::cmd("SADD").arg(self.live_key()).arg(concert).query_async(&mut conn).await?;
        }
        Ok(ok == 1)
    }

    /// The concert's seat states, unless they are still at `known` (after noticing expired
    /// holds, so none shows).
    pub async fn availability(
        &self,
        concert: i64,
        known: Option<u64>,
    ) -> AppResult<AvailabilityRead> {
        let mut inv = self.changing(&READ, concert);
        inv.key(self.concert_key(concert, "held"))
            .key(self.concert_key(concert, "info"))
            .arg(self.seat_prefix(concert))
            .arg(known.map(|v| v.to_string()).unwrap_or_default());
        let mut conn = self.redis.conn().await?;
        let reply: Vec<Vec<u8>> = inv.invoke_async(&mut conn).await?;
        let text = |i: usize| reply.get(i).map(|b| String::from_utf8_lossy(b).into_owned());
        let number = |i: usize| text(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or_default();
        Ok(match text(0).as_deref() {
            Some("MISS") => AvailabilityRead::Miss,
            Some("GONE") => AvailabilityRead::Deleted,
            Some("SAME") => AvailabilityRead::Unchanged(number(1)),
            Some("OK") => AvailabilityRead::Current(AvailabilityData {
                version: number(1),
                layout: text(2).unwrap_or_default(),
                count: number(3) as usize,
                states: reply.get(4).cloned().unwrap_or_default(),
            }),
            other => {
                return Err(anyhow::anyhow!("unexpected availability reply {other:?}").into());
            }
        })
    }

    /// Notices the concert's expired holds and publishes them.
    pub async fn sweep(&self, concert: i64) -> AppResult<Swept> {
        let mut inv = self.changing(&SWEEP, concert);
        inv.key(self.concert_key(concert, "held"))
            .key(self.concert_key(concert, "info"))
            .arg(self.seat_prefix(concert));
        let mut conn = self.redis.conn().await?;
        let (freed, pending, loaded): (u64, u64, u8) = inv.invoke_async(&mut conn).await?;
        Ok(Swept { freed, pending, loaded: loaded == 1 })
    }

    /// Concerts whose states are loaded (the sweeper's list).
    pub async fn live_concerts(&self) -> AppResult<Vec<i64>> {
        let mut conn = self.redis.conn().await?;
        Ok(redis::cmd("SMEMBERS").arg(self.live_key()).query_async(&mut conn).await?)
    }

    /// Takes a concert off the sweeper's list.
    pub async fn forget(&self, concert: i64) -> AppResult<()> {
        let mut conn = self.redis.conn().await?;
        let _: u64 =
            redis::cmd("SREM").arg(self.live_key()).arg(concert).query_async(&mut conn).await?;
        Ok(())
    }

    /// Waits up to `block` for changes after version `after` (the connection is busy for as
    /// long, so `block` stays under the client's response timeout).
    pub async fn wait_changes(
        &self,
        concert: i64,
        after: u64,
        block: std::time::Duration,
    ) -> AppResult<Vec<ChangeEntry>> {
        let mut conn = self.redis.conn().await?;
        let reply: Value = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(10_000)
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(self.concert_key(concert, "changes"))
            .arg(format!("{after}-0"))
            .query_async(&mut conn)
            .await?;
        Ok(parse_entries(first_stream(reply)))
    }

    /// The retained changes after version `after` up to `upto` (both exclusive, inclusive).
    pub async fn changes_between(
        &self,
        concert: i64,
        after: u64,
        upto: u64,
    ) -> AppResult<Vec<ChangeEntry>> {
        let mut conn = self.redis.conn().await?;
        let reply: Value = redis::cmd("XRANGE")
            .arg(self.concert_key(concert, "changes"))
            .arg(format!("({after}-0"))
            .arg(format!("{upto}-0"))
            .query_async(&mut conn)
            .await?;
        Ok(parse_entries(reply))
    }

    /// Adds an event for `user`'s waitlist stream (seen by every instance following it).
    pub async fn waitlist_notify(&self, user: i64, kind: &str, data: &str) -> AppResult<()> {
        let mut conn = self.redis.conn().await?;
        let _: String = redis::cmd("XADD")
            .arg(self.waitlist_notices_key())
            .arg("MAXLEN")
            .arg("~")
            .arg(WAITLIST_NOTICES_KEPT)
            .arg("*")
            .arg("u")
            .arg(user)
            .arg("k")
            .arg(kind)
            .arg("d")
            .arg(data)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// The id of the latest waitlist notice (`0-0` when there is none): a follower reads what
    /// comes after it.
    pub async fn waitlist_notices_last(&self) -> AppResult<String> {
        let mut conn = self.redis.conn().await?;
        let reply: Value = redis::cmd("XREVRANGE")
            .arg(self.waitlist_notices_key())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut conn)
            .await?;
        Ok(parse_notices(reply).pop().map(|n| n.id).unwrap_or_else(|| "0-0".to_owned()))
    }

    /// Waits up to `block` for waitlist notices after the id `after` (the connection is busy
    /// for as long, so `block` stays under the client's response timeout).
    pub async fn wait_waitlist_notices(
        &self,
        after: &str,
        block: std::time::Duration,
    ) -> AppResult<Vec<WaitlistNotice>> {
        let mut conn = self.redis.conn().await?;
        let reply: Value = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(1_000)
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(self.waitlist_notices_key())
            .arg(after)
            .query_async(&mut conn)
            .await?;
        Ok(parse_notices(first_stream(reply)))
    }
}

/// The entries of the first stream of an `XREAD` reply (`[[stream, [entries…]]]`, or nil on
/// timeout).
fn first_stream(reply: Value) -> Value {
    match reply {
        Value::Array(mut streams) if !streams.is_empty() => match streams.swap_remove(0) {
            Value::Array(mut pair) if pair.len() == 2 => pair.swap_remove(1),
            _ => Value::Nil,
        },
        _ => Value::Nil,
    }
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// Stream entries `[id, [u, user, k, kind, d, data]]` as waitlist notices; what does not parse
/// is skipped.
fn parse_notices(entries: Value) -> Vec<WaitlistNotice> {
    let Value::Array(entries) = entries else { return Vec::new() };
    entries
        .into_iter()
        .filter_map(|entry| {
            let Value::Array(parts) = entry else { return None };
            let id = value_text(parts.first()?)?;
            let Value::Array(fields) = parts.get(1)? else { return None };
            let mut notice =
                WaitlistNotice { id, user: 0, kind: String::new(), data: String::new() };
            for pair in fields.chunks(2) {
                let (Some(name), Some(value)) =
                    (value_text(&pair[0]), pair.get(1).and_then(value_text))
                else {
                    continue;
                };
                match name.as_str() {
                    "u" => notice.user = value.parse().ok()?,
                    "k" => notice.kind = value,
                    "d" => notice.data = value,
                    _ => {}
                }
            }
            (notice.user != 0 && !notice.kind.is_empty()).then_some(notice)
        })
        .collect()
}

/// Stream entries `[id, [field, value, …]]` as changes; what does not parse is skipped.
fn parse_entries(entries: Value) -> Vec<ChangeEntry> {
    let Value::Array(entries) = entries else { return Vec::new() };
    entries.into_iter().filter_map(parse_entry).collect()
}

fn parse_entry(entry: Value) -> Option<ChangeEntry> {
    let text = value_text;
    let Value::Array(parts) = entry else { return None };
    let id = text(parts.first()?)?;
    let version = id.split('-').next()?.parse().ok()?;
    let Value::Array(fields) = parts.get(1)? else { return None };
    let field = text(fields.first()?)?;
    let value = text(fields.get(1)?)?;
    let kind = match field.as_str() {
        "l" => ChangeKind::Reset { layout: value },
        "c" => ChangeKind::Seats(
            value
                .split(',')
                .filter_map(|c| {
                    let mut p = c.split(':');
                    Some(SeatChange {
                        seat: p.next()?.parse().ok()?,
                        index: p.next()?.parse().ok()?,
                        state: p.next()?.parse().ok()?,
                    })
                })
                .collect(),
        ),
        _ => return None,
    };
    Some(ChangeEntry { version, kind })
}
