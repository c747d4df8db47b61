//! Listeners: the HTTPS console (or plain HTTP behind a TLS-terminating proxy) and the HTTP → HTTPS
//! redirect. Connections are served by hyper with HTTP/1.1 and HTTP/2; a TLS handshake gets 10 seconds.

use axum::extract::ConnectInfo;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse as _, Response};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

/// Serves `app` on `listener` until `shutdown` flips; TLS when `tls` is given.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<ServerConfig>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let svc = app.map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
            let svc = TowerToHyperService::new(svc);
            let builder = Builder::new(TokioExecutor::new());
            let result = match acceptor {
                Some(acceptor) => match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => builder.serve_connection_with_upgrades(TokioIo::new(stream), svc).await,
                    _ => return,
                },
                None => builder.serve_connection_with_upgrades(TokioIo::new(tcp), svc).await,
            };
            if let Err(err) = result {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }
}

/// The plain-HTTP listener's only answer: a permanent redirect to the same path on the public URL (never to
/// the Host the client sent).
pub fn redirect_app(public_origin: String) -> Router {
    Router::new().fallback(move |uri: Uri| {
        let target = format!("{public_origin}{}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
        async move {
            let mut res: Response = StatusCode::PERMANENT_REDIRECT.into_response();
            if let Ok(v) = header::HeaderValue::from_str(&target) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            res
        }
    })
}

/// Binds a TCP listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
