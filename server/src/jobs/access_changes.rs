//! Access changes between instances on PostgreSQL (`app::backend::access::changes`): the publisher sends this
//! instance's announcements as `NOTIFY rampart_access, '<instance id>'`; the listener empties this instance's
//! caches when another instance's notification arrives, and once more after any reconnection.

use app::backend::access::changes::CHANNEL;
use app::backend::AppState;
use sqlx::postgres::PgListener;
use std::time::Duration;

/// Starts both tasks when the database is PostgreSQL (one instance on SQLite has no one to tell).
pub fn spawn(state: AppState, database_url: &str) -> Vec<tokio::task::JoinHandle<()>> {
    if !database_url.starts_with("postgres") {
        return Vec::new();
    }
    let mut tasks = Vec::new();
    if let Some(queue) = state.changes.take_queue() {
        tasks.push(tokio::spawn(publish(state.clone(), queue)));
    }
    tasks.push(tokio::spawn(listen(state, database_url.to_owned())));
    tasks
}

async fn publish(state: AppState, mut queue: tokio::sync::mpsc::Receiver<()>) {
    while queue.recv().await.is_some() {
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&state.changes.instance)
            .execute(&state.pool)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "access change not pushed to the other instances (they see it within 1 s)");
        }
    }
}

async fn listen(state: AppState, url: String) {
    loop {
        let mut listener = match PgListener::connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "access-change listener cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "access-change listener cannot listen; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // Whatever was missed while not listening.
        forget(&state);
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) if n.payload() == state.changes.instance => {}
                Ok(Some(_)) => forget(&state),
                // The connection was lost and is re-established by the next call: what came meanwhile is lost.
                Ok(None) => forget(&state),
                Err(e) => {
                    tracing::warn!(error = %e, "access-change listener failed; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

fn forget(state: &AppState) {
    state.forget_access();
    app::backend::access::epoch::bump();
}
