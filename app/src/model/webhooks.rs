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
