//! `bare ADDR`: a static `200 ok` over TLS (rustls, the same provider and protocol versions as Rampart, a fresh
//! self-signed certificate) with axum and hyper's HTTP/1.1 + HTTP/2 server and nothing else — no middleware,
//! no database. `make bench` runs it beside Rampart and prints every figure as a ratio to it.

use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

fn tls() -> Result<Arc<ServerConfig>, Box<dyn std::error::Error>> {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:19500".to_owned()).parse()?;
    if !addr.ip().is_loopback() {
        return Err("bare serves loopback only".into());
    }
    let acceptor = TlsAcceptor::from(tls()?);
    let app = Router::new().route("/", get(|| async { "ok" }));
    let listener = TcpListener::bind(addr).await?;
    println!("bare: serving https://{addr}/");
    loop {
        let (tcp, _) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let svc = TowerToHyperService::new(app);
            let _ = Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(tls), svc).await;
        });
    }
}
