//! What every handler can reach: cheap to clone, no globals.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

use crate::{
    clients::{
        amqp::Broker,
        gateway::{PaymentGateway, Simulator},
        holds::Holds,
        queue::Queue,
        redis::RedisClient,
    },
    config::Settings,
    services::{catalog::Catalogs, queue::QueueHub, tokens::Tokens},
};

/// Shared by every request: cloning it is one reference-count increment.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The service's connections, clients and settings.
pub struct Services {
    pub db: PgPool,
    pub redis: RedisClient,
    pub holds: Holds,
    pub catalogs: Arc<Catalogs>,
    pub queue: Queue,
    pub queue_hub: Arc<QueueHub>,
    pub broker: Broker,
    pub tokens: Arc<Tokens>,
    pub settings: Arc<Settings>,
    pub metrics: PrometheusHandle,
    pub gateway: Arc<dyn PaymentGateway>,
    /// The provider simulator, when it runs (dev and tests).
    pub simulator: Option<Arc<Simulator>>,
}
