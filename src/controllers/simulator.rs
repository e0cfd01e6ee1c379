//! The payment-provider simulator's pages (dev and tests only; never mounted in prod): a
//! checkout page per payment where a person — or a test — approves or declines, after which
//! the simulator delivers a signed webhook to the service over HTTP.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    response::{Html, IntoResponse},
    routing::{get, post},
};
use serde_json::json;

use super::extract::AppPath;
use crate::{domain::money::Money, error::AppResult, state::AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/simulator/pg/checkout/{transaction_id}", get(checkout_page))
        .route("/simulator/pg/checkout/{transaction_id}/approve", post(approve))
        .route("/simulator/pg/checkout/{transaction_id}/decline", post(decline))
        .route("/simulator/pg/refunds", get(refunds))
}

async fn checkout_page(
    State(state): State<AppState>,
    AppPath(transaction_id): AppPath<String>,
) -> AppResult<Html<String>> {
    let p = state.payments.simulator_payment(&transaction_id).await?;
    let tx = html_escape(&p.transaction_id);
    // Where the shop shows the outcome: the app's checkout page (served by this binary).
    let base = state.settings.public_base_url.as_deref().unwrap_or_default();
    let back = html_escape(&format!("{base}/checkout/{}", p.transaction_id));
    Ok(Html(format!(
        r#"<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>PG simulator</title>
<style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto}}button{{font-size:1.1rem;margin-right:1rem}}</style></head>
<body><h1>결제 시뮬레이터</h1>
<p>Transaction <code>{tx}</code></p>
<p>Amount <b>{amount} {currency}</b> — status <b id="status">{status}</b></p>
<button id="approve">Approve</button><button id="decline">Decline</button>
<p id="result"></p>
<p><a id="back" href="{back}">Return to the shop</a></p>
<script>
for (const action of ["approve", "decline"]) {{
  document.getElementById(action).onclick = async () => {{
    const res = await fetch(location.pathname + "/" + action, {{method: "POST"}});
    document.getElementById("result").textContent = res.status + " " + await res.text();
    // As a provider does: back to the shop, which shows the outcome once the webhook lands.
    if (res.ok) setTimeout(() => location.assign(document.getElementById("back").href), 500);
  }};
}}
</script></body></html>"#,
        amount = Money::from(p.amount),
        currency = html_escape(&p.currency),
        status = p.status,
    )))
}

async fn approve(state: State<AppState>, path: AppPath<String>) -> AppResult<impl IntoResponse> {
    send(state, path, true).await
}

async fn decline(state: State<AppState>, path: AppPath<String>) -> AppResult<impl IntoResponse> {
    send(state, path, false).await
}

async fn send(
    State(state): State<AppState>,
    AppPath(transaction_id): AppPath<String>,
    succeeded: bool,
) -> AppResult<impl IntoResponse> {
    let sent = state.payments.simulate_outcome(&transaction_id, succeeded).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({"eventId": sent.event_id, "transactionId": sent.transaction_id})),
    ))
}

async fn refunds(State(state): State<AppState>) -> AppResult<impl IntoResponse> {
    Ok(axum::Json(json!({"refunded": state.payments.simulated_refunds()?})))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
