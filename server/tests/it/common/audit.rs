//! The access history's test helpers: a tenant's chain id, verifying it, and making events happen.

use super::{TestApp, PASSWORD};
use app::backend::audit::verify::verify_chain;
use app::model::{ChainReportView, HistoryView};
use reqwest::StatusCode;

/// A tenant's id (its chain's name) by its name.
pub async fn tenant_id(app: &TestApp, name: &str) -> String {
    sqlx::query_scalar("SELECT id FROM tenants WHERE name = $1").bind(name).fetch_one(&app.state.pool).await.unwrap()
}

/// Verifies one chain as `rampart audit verify` does.
pub async fn verify(app: &TestApp, chain: &str) -> ChainReportView {
    verify_chain(&app.state.pool, &app.state.keys, &app.state.anchors, chain).await.unwrap()
}

/// Signs in and out `n` times (each a couple of events) with a tick of the clock between.
pub async fn activity(app: &TestApp, email: &str, n: usize) {
    for _ in 0..n {
        let c = app.client();
        app.clock.advance_ms(1000);
        let res = app.call(&c, "sign_in", &[("email", email), ("password", PASSWORD)]).await;
        assert_eq!(res.status(), StatusCode::OK);
        app.call(&c, "sign_out", &[]).await;
    }
}

/// The console's history page data for `form` (the filters), which must be accepted.
pub async fn history(app: &TestApp, c: &reqwest::Client, form: &[(&str, &str)]) -> HistoryView {
    let res = app.call(c, "get_history", form).await;
    assert_eq!(res.status(), StatusCode::OK, "{form:?}");
    res.json().await.unwrap()
}
