//! Redis: a pool plus the key prefix every key of this deployment carries.
//!
//! The target is one node (`REDIS_URL`) or a Redis Cluster (`REDIS_CLUSTER_NODES`); the same
//! code paths serve both. On a cluster every Lua script must touch one hash slot: the keys a
//! script touches carry one hash tag (`{concert id}` for everything of a concert, see
//! `clients::holds`), and the deployment prefix must hold no brace, or it would be the tag.

use std::time::Duration;

use std::time::Instant;

use deadpool::managed::{self, Metrics, RecycleResult};
use deadpool_redis::{
    Runtime,
    redis::{
        self, Arg, Cmd, Pipeline, RedisError, RedisFuture, Value,
        aio::{ConnectionLike, MultiplexedConnection},
        cluster::ClusterClientBuilder,
        cluster_async::ClusterConnection,
    },
};

use crate::error::{AppError, AppResult};

/// Events counted in a fixed window, and the window's remaining milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub count: u64,
    pub remaining_ms: u64,
}

/// One gate of [`RedisClient::pace`]: a progressive delay kept under `key`.
#[derive(Debug, Clone)]
pub struct Pace {
    pub key: String,
    /// Attempts admitted one after another without a delay.
    pub free: u32,
    /// The first delay; each further attempt doubles it, up to `max`.
    pub base: Duration,
    pub max: Duration,
    /// How long the attempts are remembered after the last one.
    pub window: Duration,
}

/// A connection is checked with a `PING` when it comes out of the pool only after being idle
/// this long (or after a failure): deadpool-redis pings on every checkout, a second round trip
/// for every one-script request such as a hold.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

pub use crate::config::RedisTarget;

/// A connection to one node, or to the whole cluster (routing each command by its keys' slot).
enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

/// A pooled connection and whether a command on it failed at the transport level.
pub struct PooledConn {
    conn: Conn,
    broken: bool,
}

impl PooledConn {
    async fn ping(&mut self) -> Result<(), RedisError> {
        let cmd = redis::cmd("PING");
        match &mut self.conn {
            Conn::Single(c) => cmd.query_async::<String>(c).await.map(drop),
            Conn::Cluster(c) => cmd.query_async::<String>(c).await.map(drop),
        }
    }
}

/// deadpool-redis's managers without the per-checkout `PING`: a connection that saw a
/// transport error is replaced, one idle for `CHECK_IDLE_AFTER` is pinged, any other is handed
/// out as is. A cluster connection is itself multiplexed over every node, with its own
/// reconnection and slot map; its retries are few and its timeouts short (3 s in all), so a
/// request to a slot whose master is down fails (503) instead of waiting out a failover.
pub enum Manager {
    Single(deadpool_redis::Manager),
    Cluster(deadpool_redis::cluster::ClusterClient),
}

impl Manager {
    fn new(target: &RedisTarget) -> anyhow::Result<Self> {
        Ok(match target {
            RedisTarget::Single(url) => {
                Manager::Single(deadpool_redis::Manager::new(url.as_str())?)
            }
            RedisTarget::Cluster(nodes) => Manager::Cluster(
                ClusterClientBuilder::new(nodes.iter().map(String::as_str))
                    .connection_timeout(Duration::from_secs(1))
                    .response_timeout(Duration::from_secs(2))
                    .overall_response_timeout(Some(Duration::from_secs(3)))
                    .retries(2)
                    .min_retry_wait(50)
                    .max_retry_wait(400)
                    .build()?,
            ),
        })
    }
}

impl managed::Manager for Manager {
    type Type = PooledConn;
    type Error = RedisError;

    async fn create(&self) -> Result<PooledConn, RedisError> {
        let conn = match self {
            Manager::Single(m) => Conn::Single(managed::Manager::create(m).await?),
            Manager::Cluster(client) => Conn::Cluster(client.get_async_connection().await?),
        };
        Ok(PooledConn { conn, broken: false })
    }

    async fn recycle(&self, obj: &mut PooledConn, metrics: &Metrics) -> RecycleResult<RedisError> {
        if obj.broken {
            return Err(managed::RecycleError::message("transport error"));
        }
        if metrics.last_used() < CHECK_IDLE_AFTER {
            return Ok(());
        }
        obj.ping().await.map_err(managed::RecycleError::Backend)
    }
}

type Pool = managed::Pool<Manager>;

/// A Redis pool and the prefix of this deployment's keys.
#[derive(Clone)]
pub struct RedisClient {
    pool: Pool,
    prefix: String,
    cluster: bool,
}

impl RedisClient {
    pub fn new(target: &RedisTarget, prefix: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !prefix.contains(['{', '}']),
            "REDIS_KEY_PREFIX must not contain braces: they would become every key's hash tag"
        );
        let manager = Manager::new(target)?;
        // As many connections on a cluster (each one reaching every master): a blocking read
        // (the availability stream's XREAD) holds its connection's pipe to one node.
        let mut pool_config = managed::PoolConfig::new(64);
        pool_config.timeouts.wait = Some(Duration::from_secs(5));
        pool_config.timeouts.create = Some(Duration::from_secs(3));
        pool_config.timeouts.recycle = Some(Duration::from_secs(3));
        let pool = Pool::builder(manager).config(pool_config).runtime(Runtime::Tokio1).build()?;
        let cluster = matches!(target, RedisTarget::Cluster(_));
        Ok(RedisClient { pool, prefix: prefix.to_owned(), cluster })
    }

    /// Whether this is a Redis Cluster (commands that scan keys must then visit every master).
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// The full key for `name`, with the deployment prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    /// The full key for a formatted name, in one allocation.
    pub fn key_fmt(&self, name: std::fmt::Arguments<'_>) -> String {
        use std::fmt::Write;
        let mut key = String::with_capacity(self.prefix.len() + 40);
        key.push_str(&self.prefix);
        let _ = key.write_fmt(name);
        key
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A pooled connection whose every command is timed and counted.
    pub async fn conn(&self) -> AppResult<Instrumented> {
        let start = Instant::now();
        let conn = self.pool.get().await;
        metrics::histogram!("redis_pool_wait_seconds").record(start.elapsed().as_secs_f64());
        match conn {
            Ok(conn) => Ok(Instrumented(conn)),
            Err(e) => {
                metrics::counter!("redis_errors_total", "command" => "POOL").increment(1);
                Err(e.into())
            }
        }
    }

    /// `PING`, for readiness.
    pub async fn ping(&self) -> AppResult<()> {
        let mut conn = self.conn().await?;
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    /// Counts one event in a fixed window; returns the count so far and the window's
    /// remaining time.
    pub async fn count_in_window(&self, key: &str, window: Duration) -> AppResult<WindowCount> {
        let script = redis::Script::new(
            r"local n = redis.call('INCR', KEYS[1])
              if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
              local ttl = redis.call('PTTL', KEYS[1])
              if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
              return {n, ttl}",
        );
        let mut conn = self.conn().await?;
        let (n, ttl): (u64, u64) = script
            .key(self.key(key))
            .arg(window.as_millis() as u64)
            .invoke_async(&mut conn)
            .await?;
        Ok(WindowCount { count: n, remaining_ms: ttl })
    }

    /// Admits one attempt through every gate or through none, atomically (one script, Redis's
    /// clock): when a gate's next allowed time is still ahead, nothing is counted and the
    /// wait is returned in ms; otherwise each gate counts the attempt, and from its `free`-th
    /// one on sets the next allowed time `base × 2^(n − free)` (at most `max`) ahead. Each key
    /// lives `window` past its last attempt.
    pub async fn pace(&self, gates: &[Pace]) -> AppResult<Option<u64>> {
        let script = redis::Script::new(
            r"local t = redis.call('TIME')
              local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
              local wait = 0
              for _, key in ipairs(KEYS) do
                local nxt = tonumber(redis.call('HGET', key, 'next') or '0')
                if nxt - now > wait then wait = nxt - now end
              end
              if wait > 0 then return wait end
              for i, key in ipairs(KEYS) do
                local a = (i - 1) * 4
                local free, base = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
                local max, window = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
                local n = redis.call('HINCRBY', key, 'n', 1)
                local delay = 0
                if n >= free then delay = math.floor(math.min(base * 2 ^ (n - free), max)) end
                redis.call('HSET', key, 'next', now + delay)
                redis.call('PEXPIRE', key, math.max(window, delay))
              end
              return 0",
        );
        let mut invocation = script.prepare_invoke();
        for gate in gates {
            invocation
                .key(self.key(&gate.key))
                .arg(gate.free)
                .arg(gate.base.as_millis() as u64)
                .arg(gate.max.as_millis() as u64)
                .arg(gate.window.as_millis() as u64);
        }
        let mut conn = self.conn().await?;
        let wait_ms: u64 = invocation.invoke_async(&mut conn).await?;
        Ok((wait_ms > 0).then_some(wait_ms))
    }

    /// Whether `key` exists.
    pub async fn exists(&self, key: &str) -> AppResult<bool> {
        let mut conn = self.conn().await?;
        let n: u64 = redis::cmd("EXISTS").arg(self.key(key)).query_async(&mut conn).await?;
        Ok(n > 0)
    }

    /// Sets `key` to `1` for `ttl`.
    pub async fn mark(&self, key: &str, ttl: Duration) -> AppResult<()> {
        let mut conn = self.conn().await?;
        let _: () = redis::cmd("SET")
            .arg(self.key(key))
            .arg(1)
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    pub async fn delete(&self, key: &str) -> AppResult<()> {
        let mut conn = self.conn().await?;
        let _: u64 = redis::cmd("DEL").arg(self.key(key)).query_async(&mut conn).await?;
        Ok(())
    }
}

/// A Redis connection that records `redis_command_duration_seconds` and `redis_errors_total` by
/// command name (`EVALSHA`, `GET`, … — a handful of values).
pub struct Instrumented(managed::Object<Manager>);

fn command_name(cmd: &Cmd) -> &'static str {
    let first = cmd.args_iter().next();
    match first {
        Some(Arg::Simple(name)) => match name.to_ascii_uppercase().as_slice() {
            b"EVALSHA" => "EVALSHA",
            b"EVAL" => "EVAL",
            b"SCRIPT" => "SCRIPT",
            b"GET" => "GET",
            b"SET" => "SET",
            b"DEL" => "DEL",
            b"PING" => "PING",
            b"ZADD" => "ZADD",
            b"ZREM" => "ZREM",
            b"ZCARD" => "ZCARD",
            b"SMEMBERS" => "SMEMBERS",
            _ => "OTHER",
        },
        _ => "OTHER",
    }
}

fn observe(command: &'static str, start: Instant, failed: bool) {
    metrics::histogram!("redis_command_duration_seconds", "command" => command)
        .record(start.elapsed().as_secs_f64());
    if failed {
        metrics::counter!("redis_errors_total", "command" => command).increment(1);
    }
}

impl ConnectionLike for Instrumented {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let command = command_name(cmd);
        Box::pin(async move {
            let start = Instant::now();
            let result = match &mut self.0.conn {
                Conn::Single(c) => c.req_packed_command(cmd).await,
                Conn::Cluster(c) => c.req_packed_command(cmd).await,
            };
            self.0.broken |= result.as_ref().is_err_and(is_transport_error);
            // NOSCRIPT is the normal first call of a script, not an error.
            let failed = result.as_ref().is_err_and(|e| e.code() != Some("NOSCRIPT"));
            observe(command, start, failed);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let start = Instant::now();
            let result = match &mut self.0.conn {
                Conn::Single(c) => c.req_packed_commands(pipeline, offset, count).await,
                Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count).await,
            };
            self.0.broken |= result.as_ref().is_err_and(is_transport_error);
            observe("PIPELINE", start, result.is_err());
            result
        })
    }

    fn get_db(&self) -> i64 {
        match &self.0.conn {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

fn is_transport_error(err: &RedisError) -> bool {
    err.is_io_error() || err.is_connection_dropped() || err.is_timeout()
}

/// Whether `err` means Redis (or, on a cluster, the node serving a slot) is away for now: the
/// request may succeed later, so the answer is 503 with `Retry-After`, not 500.
pub fn is_unavailable(err: &RedisError) -> bool {
    use deadpool_redis::redis::{ErrorKind, ServerErrorKind};
    is_transport_error(err)
        || err.is_cluster_error()
        || matches!(
            err.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(ServerErrorKind::MasterDown | ServerErrorKind::BusyLoading)
        )
}

impl From<managed::PoolError<RedisError>> for AppError {
    fn from(err: managed::PoolError<RedisError>) -> Self {
        AppError::Unavailable(err.into())
    }
}

impl From<redis::RedisError> for AppError {
    fn from(err: redis::RedisError) -> Self {
        if is_unavailable(&err) {
            AppError::Unavailable(err.into())
        } else {
            AppError::Unexpected(err.into())
        }
    }
}
