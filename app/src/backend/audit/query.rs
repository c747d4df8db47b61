//! Reading the access history: filtered, keyset-paginated pages and single events. Each filter has an index
//! (see the migrations): time `(tenant_id, created_at, id)`, action `(tenant_id, action, created_at, id)`,
//! failures `(tenant_id, created_at, id) WHERE outcome = 'failure'` (successes, most events, walk the time
//! index), member `(tenant_id, account_id, created_at, id)`, IP or block `(tenant_id, ip_key, created_at, id)`,
//! key `(key_id, created_at, id)`; `make bench` measures them at 1 and 10 M events.

use crate::backend::access::{perm, Granted, TenantCtx};
use crate::backend::keys::guard::Cidr;
use crate::model::{AppError, AuditEventDetailView, AuditEventView};
use sqlx::{AnyPool, Row as _};

/// The tenant's newest events, newest first.
pub async fn list_latest(
    pool: &AnyPool,
    ctx: &TenantCtx,
    granted: &Granted<perm::AccessHistory>,
    limit: i64,
) -> Result<Vec<AuditEventView>, AppError> {
    Ok(list_page(pool, ctx, granted, &EventFilter::default(), limit).await?.0)
}

/// Which events to list; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Events of this member (membership id) of the tenant.
    pub member: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub key_id: Option<String>,
    /// An IP address or a CIDR block.
    pub ip: Option<String>,
    /// Epoch ms, inclusive.
    pub since: Option<i64>,
    /// Epoch ms, exclusive.
    pub until: Option<i64>,
    /// Continue after this event (the `next_cursor` of the previous page).
    pub cursor: Option<String>,
}

/// Longest page.
pub const MAX_PAGE: i64 = 500;

pub(super) enum Bind {
    Text(String),
    Int(i64),
}

/// The `WHERE` clause (tenant first) and its parameters for `filter`; refuses a malformed filter.
pub(super) fn where_clause(ctx: &TenantCtx, filter: &EventFilter) -> Result<(String, Vec<Bind>), AppError> {
    let mut sql = String::from(" WHERE tenant_id = $1");
    let mut binds: Vec<Bind> = vec![Bind::Text(ctx.tenant_id().as_str().to_owned())];
    // The outcome is a literal, never a parameter: `outcome = 'failure'` is what the partial index of failures
    // is declared with, and only a query that names it so may use that index.
    let mut outcome = "";
    let mut push = |clause: &str, b: Bind| {
        binds.push(b);
        sql.push_str(&clause.replacen('?', &format!("${}", binds.len()), 1));
    };
    if let Some(m) = &filter.member {
        push(" AND account_id = (SELECT account_id FROM memberships WHERE id = ?", Bind::Text(m.clone()));
        push(" AND tenant_id = ?)", Bind::Text(ctx.tenant_id().as_str().to_owned()));
    }
    if let Some(a) = &filter.action {
        push(" AND action = ?", Bind::Text(a.clone()));
    }
    if let Some(o) = &filter.outcome {
        outcome = match o.as_str() {
            "success" => " AND outcome = 'success'",
            "failure" => " AND outcome = 'failure'",
            _ => return Err(AppError::validation("outcome", "The outcome is success or failure.")),
        };
    }
    if let Some(k) = &filter.key_id {
        push(" AND key_id = ?", Bind::Text(k.clone()));
    }
    if let Some(ip) = &filter.ip {
        let block: Cidr = ip.parse().map_err(|e: String| AppError::validation("ip", e))?;
        let (lo, hi) = block.key_range();
        if lo == hi {
            push(" AND ip_key = ?", Bind::Text(lo));
        } else {
            push(" AND ip_key >= ?", Bind::Text(lo));
            push(" AND ip_key <= ?", Bind::Text(hi));
        }
    }
    if let (Some(s), Some(u)) = (filter.since, filter.until) {
        if s >= u {
            return Err(AppError::validation("until", "The end of the period must come after its start."));
        }
    }
    if let Some(t) = filter.since {
        push(" AND created_at >= ?", Bind::Int(t));
    }
    if let Some(t) = filter.until {
        push(" AND created_at < ?", Bind::Int(t));
    }
    if let Some(c) = filter.cursor.as_deref() {
        let (at, id) = parse_cursor(c).ok_or_else(|| AppError::validation("cursor", "This cursor is not valid."))?;
        push(" AND (created_at < ?", Bind::Int(at));
        push(" OR (created_at = ?", Bind::Int(at));
        push(" AND id < ?))", Bind::Text(id));
    }
    sql.push_str(outcome);
    Ok((sql, binds))
}

pub(super) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: Vec<Bind>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t),
            Bind::Int(i) => q.bind(i),
        };
    }
    q
}

/// One page of the tenant's events, newest first, and the cursor of the next page (keyset pagination on
/// `(created_at, id)`: no offset scan however deep the page).
pub async fn list_page(
    pool: &AnyPool,
    ctx: &TenantCtx,
    _granted: &Granted<perm::AccessHistory>,
    filter: &EventFilter,
    limit: i64,
) -> Result<(Vec<AuditEventView>, Option<String>), AppError> {
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::validation("limit", format!("A page holds 1 to {MAX_PAGE} events.")));
    }
    let page = |rows: Vec<sqlx::any::AnyRow>| -> Result<(Vec<AuditEventView>, Option<String>), AppError> {
        let mut events = rows.iter().map(view_of).collect::<Result<Vec<_>, sqlx::Error>>()?;
        let next = if events.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
            events.pop();
            events.last().map(|e| format!("{}.{}", e.at, e.id))
        } else {
            None
        };
        Ok((events, next))
    };
    // An address block that matches many events is served fastest by walking the newest events in order; one
    // that matches few, by its index range (then sorted). Try the first within the newest PROBE events: a full
    // page there is exactly the page (nothing newer is outside the window); otherwise the block is sparse and
    // the range is small enough to sort.
    if let Some(ip) = filter.ip.as_deref() {
        let block: Cidr = ip.parse().map_err(|e: String| AppError::validation("ip", e))?;
        let (lo, hi) = block.key_range();
        if lo != hi {
            let (clause, mut binds) = where_clause(ctx, &EventFilter { ip: None, ..filter.clone() })?;
            let n = binds.len();
            binds.push(Bind::Text(lo));
            binds.push(Bind::Text(hi));
            let sql = format!(
                "SELECT {COLUMNS} FROM (SELECT {COLUMNS}, ip_key FROM audit_events{clause} \
                 ORDER BY created_at DESC, id DESC LIMIT {PROBE}) recent WHERE ip_key >= ${} AND ip_key <= ${} \
                 ORDER BY created_at DESC, id DESC LIMIT {}",
                n + 1,
                n + 2,
                limit + 1
            );
            let rows = bind_all(sqlx::query(&sql), binds).fetch_all(pool).await?;
            if rows.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
                return page(rows);
            }
        }
    }
    let (clause, binds) = where_clause(ctx, filter)?;
    let sql = if filter.ip.is_some() {
        // A sparse block: pick the page's ids from the covering (tenant, ip, time, id) index — a top-N sort of
        // index entries — and read only those rows.
        format!(
            "SELECT {COLUMNS} FROM audit_events WHERE id IN (SELECT id FROM audit_events{clause} \
             ORDER BY created_at DESC, id DESC LIMIT {}) ORDER BY created_at DESC, id DESC",
            limit + 1
        )
    } else {
        format!("SELECT {COLUMNS} FROM audit_events{clause} ORDER BY created_at DESC, id DESC LIMIT {}", limit + 1)
    };
    page(bind_all(sqlx::query(&sql), binds).fetch_all(pool).await?)
}

/// The columns of a listed event.
const COLUMNS: &str = "id, created_at, action, outcome, actor, ip, user_agent, detail, key_id";
/// How many of the newest events a dense address-block filter looks through first.
const PROBE: i64 = 20_000;

fn view_of(r: &sqlx::any::AnyRow) -> Result<AuditEventView, sqlx::Error> {
    Ok(AuditEventView {
        id: r.try_get("id")?,
        at: r.try_get("created_at")?,
        action: r.try_get("action")?,
        outcome: r.try_get("outcome")?,
        actor: r.try_get("actor")?,
        ip: r.try_get("ip")?,
        user_agent: r.try_get("user_agent")?,
        detail: r.try_get("detail")?,
        key_id: r.try_get("key_id")?,
    })
}

/// One event of the tenant with its chain values; `NotFound` for another tenant's or an unknown id.
pub async fn get_event(
    pool: &AnyPool,
    ctx: &TenantCtx,
    _granted: &Granted<perm::AccessHistory>,
    id: &str,
) -> Result<AuditEventDetailView, AppError> {
    let row = sqlx::query(
        "SELECT e.id, e.created_at, e.action, e.outcome, e.actor, e.ip, e.user_agent, e.detail, e.key_id, e.seq, \
         e.prev_mac, e.mac, m.id AS member_id FROM audit_events e \
         LEFT JOIN memberships m ON m.account_id = e.account_id AND m.tenant_id = e.tenant_id \
         WHERE e.tenant_id = $1 AND e.id = $2",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(AuditEventDetailView {
        event: view_of(&row)?,
        seq: row.try_get("seq")?,
        prev_mac: row.try_get("prev_mac")?,
        mac: row.try_get("mac")?,
        member_id: row.try_get("member_id")?,
    })
}

fn parse_cursor(c: &str) -> Option<(i64, String)> {
    let (at, id) = c.split_once('.')?;
    let ok_id = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    ok_id.then_some(())?;
    Some((at.parse().ok()?, id.to_owned()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::backend::access::MemberParts;
    use crate::backend::platform::db::test_pool;
    use crate::backend::platform::ids::{AccountId, MembershipId, TenantId};

    /// SQLite's plan for the page query of `filter`, one line per step.
    async fn plan(pool: &AnyPool, ctx: &TenantCtx, filter: &EventFilter) -> String {
        let (clause, binds) = where_clause(ctx, filter).unwrap();
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT {COLUMNS} FROM audit_events{clause} ORDER BY created_at DESC, id DESC LIMIT 51"
        );
        let rows = bind_all(sqlx::query(&sql), binds).fetch_all(pool).await.unwrap();
        rows.iter().map(|r| r.try_get::<String, _>("detail").unwrap()).collect::<Vec<_>>().join("\n")
    }

    /// Every filter is served from an index that yields the page in order: no walk of the whole table and no
    /// sort of the tenant's events, whatever their number. REST requests are most events and are left out of
    /// the account and failure indexes, so the filters that need those must name them in a way that lets the
    /// partial indexes serve.
    #[tokio::test]
    async fn each_filter_reads_its_own_index() {
        let (_dir, pool) = test_pool().await;
        let ctx = TenantCtx::member(MemberParts {
            tenant_id: TenantId::new(),
            account_id: AccountId::new(),
            membership_id: MembershipId::new(),
            role: "owner".to_owned(),
            email: "o@plan.example".to_owned(),
            tenant_name: "Plan".to_owned(),
            grants: Vec::new(),
            tenant_count: 1,
        });
        let f = |edit: fn(&mut EventFilter)| {
            let mut filter = EventFilter::default();
            edit(&mut filter);
            filter
        };
        let cases: [(EventFilter, &str); 8] = [
            (f(|_| {}), "audit_events_tenant_time"),
            (f(|x| x.outcome = Some("failure".into())), "audit_events_tenant_failures"),
            (f(|x| x.outcome = Some("success".into())), "audit_events_tenant_time"),
            (f(|x| x.action = Some("key.roll".into())), "audit_events_tenant_action"),
            (f(|x| x.key_id = Some("k".into())), "audit_events_key_time"),
            (f(|x| x.member = Some("m".into())), "audit_events_tenant_account"),
            (
                f(|x| {
                    x.member = Some("m".into());
                    x.outcome = Some("failure".into());
                    x.since = Some(1);
                }),
                "audit_events_tenant_account",
            ),
            (f(|x| x.ip = Some("203.0.113.9".into())), "audit_events_tenant_ip"),
        ];
        for (filter, index) in cases {
            let plan = plan(&pool, &ctx, &filter).await;
            let first = plan.lines().next().unwrap_or_default();
            assert!(
                first.starts_with("SEARCH audit_events USING") && first.contains(&format!("INDEX {index} (")),
                "{filter:?} should read {index}: {plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{filter:?} sorts: {plan}");
        }
    }
}
