//! What every handler can reach: cheap to clone, no globals.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

use crate::{
    clients::{amqp::Broker, redis::RedisClient},
    config::Settings,
    services::tokens::Tokens,
};

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub redis: RedisClient,
    pub broker: Broker,
    pub tokens: Arc<Tokens>,
    pub settings: Arc<Settings>,
    pub metrics: PrometheusHandle,
}
