use super::*;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tower::ServiceExt as _;

/// A stalled rendering never finishes, so the deadline only bounds how long these tests take.
const DEADLINE: Duration = Duration::from_millis(100);

/// A page whose first `stalls` renderings never finish, guarded as the gate guards pages; and the count of
/// renderings begun.
fn app(stalls: usize, metrics: &Metrics, deadline: Duration) -> (Router, Arc<AtomicUsize>) {
    let tries = Arc::new(AtomicUsize::new(0));
    let counted = tries.clone();
    let page = move || {
        let n = counted.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < stalls {
                std::future::pending::<()>().await;
            }
            format!("rendered on try {}", n + 1)
        }
    };
    let metrics = metrics.clone();
    let router = Router::new().route("/page", get(page.clone()).post(page.clone())).route("/api/f", get(page)).layer(
        axum::middleware::from_fn(move |req: Request, next: Next| {
            let metrics = metrics.clone();
            async move { render_within(next, req, &metrics, deadline).await }
        }),
    );
    (router, tries)
}

async fn call(router: Router, method: Method, path: &str) -> (StatusCode, String) {
    let req = Request::builder().method(method).uri(path).header("accept", "text/html").body(Body::empty());
    let res = tokio::time::timeout(Duration::from_secs(10), router.oneshot(req.expect("request")))
        .await
        .expect("answered: a stalled page is not left hanging")
        .expect("infallible");
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn retries(metrics: &Metrics) -> u64 {
    let text = metrics.render().expect("enabled");
    text.lines()
        .find_map(|l| l.strip_prefix("rampart_page_render_retries_total "))
        .map_or(0, |n| n.trim().parse().expect("a count"))
}

#[tokio::test]
async fn a_stalled_page_is_rendered_again_once_and_counted() {
    let metrics = Metrics::prometheus();
    let (router, tries) = app(1, &metrics, DEADLINE);
    let (status, body) = call(router, Method::GET, "/page").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "rendered on try 2"));
    assert_eq!(tries.load(Ordering::SeqCst), 2);
    assert_eq!(retries(&metrics), 1);
}

#[tokio::test]
async fn a_page_that_stalls_twice_is_a_503_not_a_hang() {
    let metrics = Metrics::prometheus();
    let (router, tries) = app(2, &metrics, DEADLINE);
    let (status, _) = call(router, Method::GET, "/page").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(tries.load(Ordering::SeqCst), 2, "tried twice, not more");
}

#[tokio::test]
async fn a_page_in_time_is_rendered_once_and_nothing_is_counted() {
    let metrics = Metrics::prometheus();
    // A deadline no busy machine misses: the page answers at once.
    let (router, tries) = app(0, &metrics, Duration::from_secs(60));
    assert_eq!(call(router, Method::GET, "/page").await, (StatusCode::OK, "rendered on try 1".to_owned()));
    assert_eq!(tries.load(Ordering::SeqCst), 1);
    assert_eq!(retries(&metrics), 0);
}

/// A form post or a server function may have changed something: it is never run twice, however long it takes.
#[tokio::test]
async fn a_post_or_a_server_function_is_never_run_again() {
    for (method, path) in [(Method::POST, "/page"), (Method::GET, "/api/f")] {
        let metrics = Metrics::prometheus();
        let (router, tries) = app(1, &metrics, DEADLINE);
        let waited = tokio::time::timeout(DEADLINE * 10, call(router, method.clone(), path)).await;
        assert!(waited.is_err(), "{method} {path} was not cut short");
        assert_eq!(tries.load(Ordering::SeqCst), 1, "{method} {path} ran once");
        assert_eq!(retries(&metrics), 0);
    }
}
