//! Telling the other instances that access changed. Every instance keeps short-lived caches of what decides
//! access (sessions and memberships under the access epoch, verified API keys, network rules, the snapshot of
//! automatic IP blocks), each valid for at most a second. On PostgreSQL a change is also pushed: the instance
//! that made it sends `NOTIFY rampart_access` with its own id, and every other instance's listener
//! (`sqlx::postgres::PgListener`, started by the server) empties its caches on receipt — usually within
//! milliseconds. A listener that lost its connection empties them again once it is back (what it missed
//! meanwhile is covered by the one-second bound). On SQLite there is one instance: nothing to push.

use tokio::sync::mpsc;

/// The channel every instance listens on.
pub const CHANNEL: &str = "rampart_access";

/// This instance's side of the notifications: `announce` queues one (bursts coalesce into one `NOTIFY`), the
/// server's publisher task sends them.
#[derive(Debug)]
pub struct Changes {
    /// This instance's id: its own notifications come back to it and are ignored.
    pub instance: String,
    tx: mpsc::Sender<()>,
    rx: std::sync::Mutex<Option<mpsc::Receiver<()>>>,
}

impl Default for Changes {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(1);
        Self { instance: uuid::Uuid::new_v4().to_string(), tx, rx: std::sync::Mutex::new(Some(rx)) }
    }
}

impl Changes {
    /// Queues a notification to the other instances (never waits; one already queued covers this one).
    pub fn announce(&self) {
        let _ = self.tx.try_send(());
    }

    /// The queue of announcements, for the publisher task (once).
    pub fn take_queue(&self) -> Option<mpsc::Receiver<()>> {
        self.rx.lock().ok().and_then(|mut rx| rx.take())
    }
}
