//! The payment provider (PG) behind a trait: start a payment (where the fan pays), refund one.
//! A real provider is one more implementation (docs/PAYMENTS.md); the built-in simulator plays
//! one in dev and tests, delivering signed webhooks over real HTTP.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::future::BoxFuture;
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::domain::{money::Money, signature};

/// What the provider answered to a new payment.
#[derive(Debug, Clone)]
pub struct StartedPayment {
    /// Where the fan completes the payment.
    pub checkout_url: String,
}

/// A payment provider.
pub trait PaymentGateway: Send + Sync {
    /// Registers a payment the fan will complete at the returned URL.
    fn start_payment<'a>(
        &'a self,
        transaction_id: &'a str,
        amount: Decimal,
        currency: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<StartedPayment>>;

    /// Asks the provider to refund a captured payment. Must be idempotent per transaction:
    /// the refund worker repeats it until it succeeds.
    fn refund<'a>(
        &'a self,
        transaction_id: &'a str,
        amount: Decimal,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// Used when no provider is configured (prod without an integration): every call fails, so
/// checkouts report `pgRequestSuccess: false` and refunds stay pending, visibly.
pub struct Unconfigured;

impl PaymentGateway for Unconfigured {
    fn start_payment<'a>(
        &'a self,
        _: &'a str,
        _: Decimal,
        _: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<StartedPayment>> {
        Box::pin(async { Err(anyhow::anyhow!("no payment provider is configured")) })
    }

    fn refund<'a>(&'a self, _: &'a str, _: Decimal) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Err(anyhow::anyhow!("no payment provider is configured")) })
    }
}

/// The built-in provider simulator.
pub struct Simulator {
    public_base: String,
    webhook_url: String,
    secret: SecretString,
    http: reqwest::Client,
    refunds: Mutex<Vec<String>>,
    /// First retry delay; doubles per attempt.
    pub retry_base: Duration,
    pub max_attempts: u32,
}

impl Simulator {
    pub fn new(public_base: String, webhook_url: String, secret: SecretString) -> Arc<Simulator> {
        Arc::new(Simulator {
            public_base,
            webhook_url,
            secret,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("HTTP client"),
            refunds: Mutex::new(Vec::new()),
            retry_base: Duration::from_millis(250),
            max_attempts: 8,
        })
    }

    /// Transactions refunded so far (for the simulator page and tests).
    pub fn refunds(&self) -> Vec<String> {
        self.refunds.lock().expect("lock").clone()
    }

    /// Sends the outcome of a payment as the provider would: a signed webhook, retried with
    /// exponential backoff until the service answers 2xx. Returns the event id at once.
    pub fn deliver(
        self: &Arc<Self>,
        transaction_id: &str,
        succeeded: bool,
        amount: Money,
        currency: &str,
    ) -> String {
        let event_id = format!("evt_{}", uuid::Uuid::new_v4().simple());
        let body = json!({
            "eventId": event_id,
            "transactionId": transaction_id,
            "status": if succeeded { "SUCCESS" } else { "FAILED" },
            "amount": amount,
            "currency": currency,
            "occurredAt": chrono::Utc::now().to_rfc3339(),
        })
        .to_string();
        let this = self.clone();
        let event = event_id.clone();
        tokio::spawn(async move {
            let mut delay = this.retry_base;
            for attempt in 1..=this.max_attempts {
                let t = chrono::Utc::now().timestamp();
                let header =
                    signature::sign(this.secret.expose_secret().as_bytes(), t, body.as_bytes());
                let result = this
                    .http
                    .post(&this.webhook_url)
                    .header("content-type", "application/json")
                    .header("x-payment-signature", header)
                    .body(body.clone())
                    .send()
                    .await;
                match result {
                    Ok(res) if res.status().is_success() => {
                        tracing::info!(event.id = %event, attempt, "simulator delivered webhook");
                        return;
                    }
                    Ok(res) => {
                        tracing::warn!(event.id = %event, attempt, status = %res.status(), "webhook refused; retrying")
                    }
                    Err(e) => {
                        tracing::warn!(event.id = %event, attempt, error = %e, "webhook delivery failed; retrying")
                    }
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
            tracing::error!(event.id = %event, "simulator gave up delivering the webhook");
        });
        event_id
    }
}

impl PaymentGateway for Simulator {
    fn start_payment<'a>(
        &'a self,
        transaction_id: &'a str,
        _amount: Decimal,
        _currency: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<StartedPayment>> {
        Box::pin(async move {
            Ok(StartedPayment {
                checkout_url: format!(
                    "{}/simulator/pg/checkout/{transaction_id}",
                    self.public_base
                ),
            })
        })
    }

    fn refund<'a>(
        &'a self,
        transaction_id: &'a str,
        _amount: Decimal,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let mut refunds = self.refunds.lock().expect("lock");
            if !refunds.iter().any(|t| t == transaction_id) {
                refunds.push(transaction_id.to_owned());
            }
            Ok(())
        })
    }
}
