//! `make bench` only: fills a tenant's access history with generated events, properly chained, so the history
//! page, its filters and the exports can be measured at scale. Reads the same settings as `rampart`
//! (RAMPART_DATABASE_URL, RAMPART_DATA_DIR for the master key).
//!
//! Usage: `seed_history <tenant name> <events>`. The mix: 70 % API requests, 20 % sign-ins (one in ten
//! failing), 10 % administrative acts, from about 2,000 addresses in four networks; times spread evenly over
//! the last 365 days, oldest first.
#![forbid(unsafe_code)]

use app::backend::audit::chain::{append, EventRow};
use app::backend::platform::clock::{Clock as _, SystemClock};
use server::startup::config::Settings;
use sqlx::Row as _;
use std::process::ExitCode;
use std::sync::Arc;

const BATCH: usize = 20_000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(tenant), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<usize>().ok())) else {
        eprintln!("usage: seed_history <tenant name> <events>");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("seed_history: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(seed(tenant, n)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seed_history: {e}");
            ExitCode::from(1)
        }
    }
}

struct Seed {
    tenant_id: String,
    members: Vec<(String, String)>,
    keys: Vec<String>,
    start: i64,
    step: i64,
}

async fn seed(tenant: &str, n: usize) -> Result<(), String> {
    let settings = Settings::load(None).map_err(|e| e.to_string())?;
    let state = server::build_state(&settings, Arc::new(SystemClock)).await.map_err(|e| format!("{e:?}"))?;
    let err = |e: sqlx::Error| e.to_string();
    let tenant_id: String = sqlx::query("SELECT id FROM tenants WHERE name = $1")
        .bind(tenant)
        .fetch_one(&state.pool)
        .await
        .map_err(err)?
        .try_get("id")
        .map_err(err)?;
    let members: Vec<(String, String)> = sqlx::query(
        "SELECT a.id, a.email FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.tenant_id = $1",
    )
    .bind(&tenant_id)
    .fetch_all(&state.pool)
    .await
    .map_err(err)?
    .iter()
    .map(|r| Ok((r.try_get("id")?, r.try_get("email")?)))
    .collect::<Result<_, sqlx::Error>>()
    .map_err(err)?;
    let keys: Vec<String> = sqlx::query("SELECT id FROM api_keys WHERE tenant_id = $1")
        .bind(&tenant_id)
        .fetch_all(&state.pool)
        .await
        .map_err(err)?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    if members.is_empty() {
        return Err("the tenant has no members".to_owned());
    }
    let now = SystemClock.now_ms();
    let span: i64 = 365 * 86_400_000;
    let step = (span / i64::try_from(n.max(1)).unwrap_or(1)).max(1);
    let seed = Seed { tenant_id, members, keys, start: now - span, step };
    let started = std::time::Instant::now();
    let mut written = 0usize;
    while written < n {
        let take = BATCH.min(n - written);
        let rows: Vec<EventRow> = (written..written + take).map(|i| seed.event(i)).collect();
        let mut tx = app::backend::platform::db::begin_write(&state.pool).await.map_err(err)?;
        append(&mut tx, &state.keys, now, &rows).await.map_err(err)?;
        tx.commit().await.map_err(err)?;
        written += take;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("seeded {written} events in {secs:.1} s ({:.0} events/s)", written as f64 / secs.max(1e-9));
    Ok(())
}

impl Seed {
    fn event(&self, i: usize) -> EventRow {
        const AGENTS: [&str; 4] =
            ["curl/8.5.0", "python-requests/2.32", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131", "Go-http-client/2.0"];
        const ACTS: [&str; 5] =
            ["member.update", "key.roll", "session.revoke", "invitation.create", "policy.two_factor"];
        let at = self.start + self.step * i64::try_from(i).unwrap_or(0);
        let (who, email) = &self.members[i % self.members.len()];
        let ip = if i.is_multiple_of(7) {
            format!("10.{}.{}.{}", i % 8, (i / 8) % 250, (i / 2000) % 250)
        } else {
            format!("{}.{}", ["203.0.113", "198.51.100", "192.0.2"][i % 3], (i / 3) % 250 + 1)
        };
        let kind = i % 10;
        let (action, outcome, actor, account, key, detail) = if kind < 7 {
            let key = self.keys.get(i % self.keys.len().max(1)).cloned();
            let ok = !i.is_multiple_of(50);
            let detail = if ok { "GET /api/v1/members 200" } else { "GET /api/v1/members 401 ip not allowed" };
            ("api.request", ok, "rmp_read_ab12".to_owned(), None, key, detail)
        } else if kind < 9 {
            let ok = i % 100 >= 10;
            let detail = if ok { "password+totp" } else { "wrong password" };
            ("sign_in", ok, email.clone(), Some(who.clone()), None, detail)
        } else {
            (ACTS[i % ACTS.len()], true, email.clone(), Some(who.clone()), None, "generated")
        };
        EventRow {
            id: uuid_like(at, i),
            tenant_id: Some(self.tenant_id.clone()),
            account_id: account,
            actor,
            action: action.to_owned(),
            outcome: if outcome { "success" } else { "failure" }.to_owned(),
            ip,
            user_agent: AGENTS[i % AGENTS.len()].to_owned(),
            detail: detail.to_owned(),
            created_at: at,
            key_id: key,
        }
    }
}

/// A time-ordered id in the UUIDv7 layout (the server's own come from `uuid::Uuid::now_v7`).
fn uuid_like(at_ms: i64, i: usize) -> String {
    let hex = format!("{:012x}7{:03x}8{:015x}", at_ms, i % 4096, i);
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}
