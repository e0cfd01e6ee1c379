//! Whether the service's dependencies answer.

use std::time::Duration;

use sqlx::PgPool;

use crate::{
    clients::{amqp::Broker, redis::RedisClient},
    repositories::health,
};

/// How long a dependency may take to answer a check.
const LIMIT: Duration = Duration::from_secs(2);

/// One dependency's state: `Ok`, or why it is down.
pub type Check = Result<(), String>;

/// The state of every dependency.
#[derive(Debug, Clone)]
pub struct Report {
    pub db: Check,
    pub redis: Check,
    pub rabbitmq: Check,
}

/// Checks Postgres, Redis and RabbitMQ.
#[derive(Clone)]
pub struct Health {
    db: PgPool,
    redis: RedisClient,
    broker: Broker,
}

impl Health {
    pub fn new(db: PgPool, redis: RedisClient, broker: Broker) -> Self {
        Health { db, redis, broker }
    }

    pub async fn check(&self) -> Report {
        let db = async {
            tokio::time::timeout(LIMIT, health::ping(&self.db))
                .await
                .map_err(|_| "timed out".to_owned())?
                .map_err(|e| e.to_string())
        };
        let redis = async {
            tokio::time::timeout(LIMIT, self.redis.ping())
                .await
                .map_err(|_| "timed out".to_owned())?
                .map_err(|e| e.to_string())
        };
        let (db, redis) = tokio::join!(db, redis);
        let rabbitmq =
            if self.broker.is_connected() { Ok(()) } else { Err("not connected".to_owned()) };
        Report { db, redis, rabbitmq }
    }
}
