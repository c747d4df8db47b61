//! The client's IP: the socket peer, unless the peer is a configured trusted proxy, in which case the
//! right-most X-Forwarded-For entry that is not itself a trusted proxy (the left part is client-controlled).

use app::backend::platform::request::ClientIp;
use axum::extract::{ConnectInfo, Request};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Arc<Vec<IpNet>>);

impl TrustedProxies {
    /// An IPv4 proxy reaching a dual-stack listener arrives as `::ffff:a.b.c.d`: judged as the IPv4 address too,
    /// or a configured `10.0.0.0/8` would never match it and every client would look like the proxy.
    fn trusts(&self, ip: &IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.0.iter().any(|net| net.contains(ip) || net.contains(&canonical))
    }

    /// Works out the client IP from the peer and the X-Forwarded-For values.
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        if !self.trusts(&peer) {
            return peer;
        }
        let hops = forwarded_for.iter().flat_map(|v| v.split(',')).map(str::trim).collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) if self.trusts(&ip) => continue,
                Ok(ip) => return ip,
                // A malformed hop: stop believing anything further left.
                Err(_) => return peer,
            }
        }
        peer
    }
}

/// Notes the request's client IP (`ClientIp`) for the layers and handlers inside.
pub fn resolve(proxies: &TrustedProxies, req: &mut Request) {
    let peer =
        req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let forwarded = req.headers().get_all("x-forwarded-for");
    let ip = if forwarded.iter().next().is_none() {
        peer
    } else {
        let xff: Vec<&str> = forwarded.iter().filter_map(|v| v.to_str().ok()).collect();
        proxies.client_ip(peer, &xff)
    };
    req.extensions_mut().insert(ClientIp(ip.to_canonical()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        assert_eq!(none.client_ip(ip("203.0.113.9"), &["1.2.3.4"]), ip("203.0.113.9"));
        let proxies = TrustedProxies(Arc::new(vec![net("10.0.0.0/8"), net("::1/128")]));
        assert_eq!(proxies.client_ip(ip("10.1.1.1"), &["198.51.100.7"]), ip("198.51.100.7"));
        // A client-supplied left part is ignored: the right-most untrusted hop wins.
        assert_eq!(proxies.client_ip(ip("10.1.1.1"), &["6.6.6.6, 198.51.100.7, 10.2.2.2"]), ip("198.51.100.7"));
        assert_eq!(proxies.client_ip(ip("10.1.1.1"), &["garbage"]), ip("10.1.1.1"));
        assert_eq!(proxies.client_ip(ip("::1"), &["2001:db8::5"]), ip("2001:db8::5"));
        // An IPv4 proxy seen through a dual-stack socket, and a mapped hop, are the IPv4 addresses they carry.
        assert_eq!(proxies.client_ip(ip("::ffff:10.1.1.1"), &["198.51.100.7"]), ip("198.51.100.7"));
        assert_eq!(proxies.client_ip(ip("::ffff:10.1.1.1"), &["198.51.100.7, ::ffff:10.2.2.2"]), ip("198.51.100.7"));
        assert_eq!(proxies.client_ip(ip("::ffff:203.0.113.9"), &["1.2.3.4"]), ip("::ffff:203.0.113.9"));
    }
}
