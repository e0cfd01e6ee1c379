//! Spent bot-check challenges in Redis: `challenge:spent:{id}`, written once with `SET NX` and
//! a TTL that ends when the challenge expires (after that the signature check refuses it
//! anyway), so a solved challenge buys one request and no key outlives its use.

use std::time::Duration;

use deadpool_redis::redis;

use super::redis::RedisClient;
use crate::error::AppResult;

/// Remembers which challenges were spent.
#[derive(Clone)]
pub struct SpentChallenges {
    redis: RedisClient,
}

impl SpentChallenges {
    pub fn new(redis: RedisClient) -> Self {
        SpentChallenges { redis }
    }

    /// Marks the challenge spent for `ttl`; false when it already was.
    pub async fn spend(&self, id: &str, ttl: Duration) -> AppResult<bool> {
        let mut conn = self.redis.conn().await?;
        let set: Option<String> = redis::cmd("SET")
            .arg(self.redis.key(&format!("challenge:spent:{id}")))
            .arg("1")
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .query_async(&mut conn)
            .await?;
        Ok(set.is_some())
    }
}
