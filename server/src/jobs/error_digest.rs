//! The operator's daily email of error reports (`error_report_email`): once a day at most, the reports that are
//! new or seen again since the last email, each with its count, place, route and request id. Checked hourly, so
//! a restart neither skips a day nor sends twice.

use app::backend::platform::failure::{self, StoredReport};
use app::backend::platform::mail::Email;
use app::backend::platform::text::escape_html;
use app::backend::AppState;
use app::model::{format_utc, AppError};
use std::time::Duration;

pub fn spawn(state: AppState, to: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match super::exclusive(&state.pool, &state.metrics, "error_digest", run_once(&state, &to)).await {
                Ok(None | Some(0)) => {}
                Ok(Some(n)) => tracing::info!(reports = n, "error reports emailed to the operator"),
                Err(err) => tracing::warn!(error = %err, "error report email not sent; will retry"),
            }
        }
    })
}

/// Sends the email if one is due (none in the last 24 hours and something to say); returns how many reports
/// it listed.
pub async fn run_once(state: &AppState, to: &str) -> Result<usize, AppError> {
    let now = state.clock.now_ms();
    failure::daily_email(&state.pool, now, |reports| async move { state.mailer.send(&email(to, &reports)).await }).await
}

fn email(to: &str, reports: &[StoredReport]) -> Email {
    let total: i64 = reports.iter().map(|r| r.occurrences).sum();
    let subject = format!("Rampart: {} error report(s), {total} occurrence(s)", reports.len());
    let mut text =
        String::from("Errors recorded by Rampart since the last report (details: `rampart errors show ID`).\n\n");
    let mut html = String::from(
        "<p>Errors recorded by Rampart since the last report (details: <code>rampart errors show ID</code>).</p><ul>",
    );
    for r in reports {
        let line = format!(
            "{} ×{} — {} at {} (status {}), last {} on {} (request {}, version {})",
            &r.fingerprint,
            r.occurrences,
            r.kind,
            r.location,
            r.status,
            format_utc(r.last_seen),
            r.route,
            r.request_id,
            r.version
        );
        text.push_str(&format!("- {line}\n  {}\n", r.chain));
        html.push_str(&format!("<li>{}<br><code>{}</code></li>", escape_html(&line), escape_html(&r.chain)));
    }
    html.push_str("</ul>");
    Email { to: to.to_owned(), subject, text, html }
}
