//! What the webhooks page shows.

use serde::{Deserialize, Serialize};

/// One endpoint (never its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEndpointView {
    pub id: String,
    pub url: String,
    pub description: String,
    /// `*`, or comma-separated action families.
    pub events: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    /// Deliveries waiting (first attempt or a retry).
    pub pending: i64,
    /// The last attempt: when, HTTP status (0: no answer), and the answer's first 1 KiB.
    pub last_attempt: Option<(i64, i64, String)>,
}

/// The webhooks page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhooksView {
    pub endpoints: Vec<WebhookEndpointView>,
}

/// A new endpoint's secret, shown once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FreshWebhookSecret {
    pub endpoint_id: String,
    pub url: String,
    pub secret: String,
}

/// One attempt at a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookAttemptView {
    pub attempted_at: i64,
    /// The HTTP status, or 0 when no answer came.
    pub status: i64,
    pub duration_ms: i64,
    /// The answer's first 1 KiB, or why there was none.
    pub response: String,
}

/// One delivery (one event to one endpoint; its id is the `webhook-id` header) and its attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookDeliveryView {
    pub id: String,
    /// The event's action, while the access history keeps it.
    pub action: Option<String>,
    pub seq: i64,
    /// pending | delivered | failed
    pub status: String,
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
    pub attempts: Vec<WebhookAttemptView>,
}

/// One endpoint's page: the endpoint and its latest deliveries, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookDeliveriesView {
    pub endpoint: WebhookEndpointView,
    pub deliveries: Vec<WebhookDeliveryView>,
    /// Every delivery ever made to the endpoint (the page shows the latest `deliveries.len()`).
    pub total: i64,
}
