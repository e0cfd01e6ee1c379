//! Liveness, readiness and the actuator-style health summary.

use std::collections::BTreeMap;

use axum::{extract::State, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::AppJson;
use crate::{services::health::Check, state::AppState};

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

fn component(result: Check) -> Component {
    match result {
        Ok(()) => Component { status: "UP", error: None },
        Err(error) => Component { status: "DOWN", error: Some(error) },
    }
}

async fn check_all(state: &AppState) -> (StatusCode, AppJson<Health>) {
    let report = state.health.check().await;
    let components = BTreeMap::from([
        ("db", component(report.db)),
        ("redis", component(report.redis)),
        ("rabbitmq", component(report.rabbitmq)),
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
