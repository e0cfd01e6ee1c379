//! Liveness, readiness and the actuator-style health summary.

use std::{collections::BTreeMap, time::Duration};

use axum::{extract::State, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::AppJson;
use crate::state::AppState;

const TAG: &str = "health";

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `UP` when every dependency answers, `DOWN` otherwise.
    #[schema(example = "UP")]
    pub status: &'static str,
    /// Each dependency's state (`db`, `redis`, `rabbitmq`), when checked.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<&'static str, Component>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Component {
    #[schema(example = "UP")]
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn component(result: Result<(), String>) -> Component {
    match result {
        Ok(()) => Component { status: "UP", error: None },
        Err(error) => Component { status: "DOWN", error: Some(error) },
    }
}

async fn check_all(state: &AppState) -> (StatusCode, AppJson<Health>) {
    let limit = Duration::from_secs(2);
    let db = async {
        tokio::time::timeout(limit, sqlx::query("select 1").execute(&state.db))
            .await
            .map_err(|_| "timed out".to_owned())?
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let redis = async {
        tokio::time::timeout(limit, state.redis.ping())
            .await
            .map_err(|_| "timed out".to_owned())?
            .map_err(|e| e.to_string())
    };
    let (db, redis) = tokio::join!(db, redis);
    let rabbit = if state.broker.is_connected() { Ok(()) } else { Err("not connected".to_owned()) };
    let components = BTreeMap::from([
        ("db", component(db)),
        ("redis", component(redis)),
        ("rabbitmq", component(rabbit)),
    ]);
    let up = components.values().all(|c| c.status == "UP");
    let status = if up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, AppJson(Health { status: if up { "UP" } else { "DOWN" }, components }))
}

/// Health of the service and each dependency (Postgres, Redis, RabbitMQ).
#[utoipa::path(get, path = "/actuator/health", tag = TAG,
    responses(
        (status = 200, description = "Everything is up", body = Health),
        (status = 503, description = "A dependency is down", body = Health),
    ))]
pub async fn get_health(State(state): State<AppState>) -> (StatusCode, AppJson<Health>) {
    check_all(&state).await
}

/// Ready to serve: Postgres, Redis and RabbitMQ reachable.
#[utoipa::path(get, path = "/health/ready", tag = TAG,
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "A dependency is down", body = Health),
    ))]
pub async fn get_readiness(State(state): State<AppState>) -> (StatusCode, AppJson<Health>) {
    check_all(&state).await
}

/// The process is alive (no dependency is checked).
#[utoipa::path(get, path = "/health/live", tag = TAG,
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn get_liveness() -> AppJson<Health> {
    AppJson(Health { status: "UP", components: BTreeMap::new() })
}
