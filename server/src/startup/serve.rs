//! Listeners: the HTTPS console (or plain HTTP behind a TLS-terminating proxy) and the HTTP → HTTPS
//! redirect. Connections are served by hyper with HTTP/1.1 and HTTP/2; a TLS handshake gets 10 seconds.

use app::backend::machines::ClientCertificate;
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

/// How long a stop waits for open connections to finish their requests.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` flips; TLS when `tls` is given. On shutdown it stops
/// accepting, lets every open connection finish the request it is serving (HTTP/1.1 keep-alive and HTTP/2
/// connections are closed gracefully), and returns when they are done or after 10 seconds.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<ServerConfig>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    // Each connection task holds a sender; when all are dropped, every connection has ended.
    let (open_tx, mut open_rx) = tokio::sync::mpsc::channel::<()>(1);
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
            _ = shutdown.changed() => break,
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        let open = open_tx.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _open = open;
            let service = |certificate: Option<ClientCertificate>| {
                TowerToHyperService::new(app.map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    if let Some(c) = &certificate {
                        req.extensions_mut().insert(c.clone());
                    }
                    req
                }))
            };
            match acceptor {
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await;
                    if let Ok(Ok(stream)) = handshake {
                        // The leaf the client proved it holds, if it sent one: every request of the connection
                        // carries its fingerprint (`app::backend::machines`).
                        let certificate = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|chain| chain.first())
                            .map(|leaf| ClientCertificate(app::backend::machines::fingerprint(leaf).into()));
                        serve_connection(TokioIo::new(stream), service(certificate), stop).await;
                    }
                }
                None => serve_connection(TokioIo::new(tcp), service(None), stop).await,
            }
        });
    }
    drop(open_tx);
    let _ = tokio::time::timeout(DRAIN, open_rx.recv()).await;
}

async fn serve_connection<I, S, B>(io: I, svc: S, mut stop: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<axum::http::Request<hyper::body::Incoming>, Response = axum::http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let builder = Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(io, svc);
    tokio::pin!(conn);
    let result = tokio::select! {
        res = conn.as_mut() => res,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(error = %err, "connection ended with an error");
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
