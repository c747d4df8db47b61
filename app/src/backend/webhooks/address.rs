//! Where a webhook may be sent (server-side request forgery defences): the URL's host is resolved once, every
//! address it resolves to must be public — not loopback, private (RFC 1918, fc00::/7), link-local (cloud
//! metadata at 169.254.169.254 included), CGNAT (100.64.0.0/10), multicast, unspecified, documentation,
//! benchmarking or reserved, and an IPv4-mapped or -translated IPv6 address is judged as the IPv4 address it
//! carries — and the request then goes to that checked address only (no second lookup), without proxies from
//! the environment and without following redirects. `https` only; the operator may allow plain `http` and
//! loopback addresses for tests (`webhook_allow_loopback`), nothing else.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether an address is one a webhook may reach (`allow_loopback`: the operator's test allowance).
pub fn allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => allowed_v4(v4, allow_loopback),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return allowed_v4(v4, allow_loopback);
            }
            let s = v6.segments();
            let v4_at = |hi: u16, lo: u16| {
                let ([a, b], [c, d]) = (hi.to_be_bytes(), lo.to_be_bytes());
                Ipv4Addr::new(a, b, c, d)
            };
            // Prefixes that carry an IPv4 address, judged as that address: 64:ff9b::/96 (NAT64, RFC 6052),
            // ::ffff:0:a.b.c.d (IPv4-translated, RFC 2765), and 6to4's 2002:a.b.c.d::/48 (RFC 3056).
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0]
                || s[..4] == [0, 0, 0, 0] && s[4..6] == [0xffff, 0]
            {
                return allowed_v4(v4_at(s[6], s[7]), allow_loopback);
            }
            if s[0] == 0x2002 {
                return allowed_v4(v4_at(s[1], s[2]), allow_loopback);
            }
            if v6.is_loopback() {
                return allow_loopback;
            }
            !(v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || s[0] == 0x2001 && s[1] == 0x0db8 // documentation
                || s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 // local-use NAT64 (RFC 8215): any IPv4 behind it
                || s[0] == 0x0100 && s[1..4] == [0, 0, 0] // discard
                || v6 == Ipv6Addr::from([0u16, 0, 0, 0, 0, 0, 0, 1])
                || s[0] == 0 && s[1..6] == [0, 0, 0, 0, 0] && s[6] != 0xffff) // IPv4-compatible (deprecated)
        }
    }
}

fn allowed_v4(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

/// Why a URL may not be a webhook target, or the address to send to (its host resolved and checked).
pub async fn resolve(url: &str, allow_loopback: bool) -> Result<(url::Url, SocketAddr), String> {
    let parsed =
        url::Url::parse(url).map_err(|_| "Give a full URL, like https://siem.example.com/hooks.".to_owned())?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_loopback => {}
        _ => return Err("Webhooks go to https:// URLs only.".to_owned()),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("Put no user name or password in the URL: verify the signature instead.".to_owned());
    }
    let host = parsed.host_str().ok_or("The URL has no host.")?.trim_start_matches('[').trim_end_matches(']');
    let port = parsed.port_or_known_default().ok_or("The URL has no port.")?;
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            tokio::net::lookup_host((host, port)).await.map_err(|_| format!("{host} does not resolve."))?.collect()
        }
    };
    let first = *addrs.first().ok_or_else(|| format!("{host} does not resolve."))?;
    if let Some(bad) = addrs.iter().find(|a| !allowed(a.ip(), allow_loopback)) {
        return Err(format!(
            "{host} resolves to {}, a private or reserved address: webhooks go to public addresses only.",
            bad.ip()
        ));
    }
    Ok((parsed, first))
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn private_reserved_and_mapped_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "240.0.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "::127.0.0.1",
            "64:ff9b:1::a9fe:a9fe",
            "::ffff:0:a9fe:a9fe",
            "::ffff:0:127.0.0.1",
            "2002:a9fe:a9fe::1",
            "2002:0a00:0001::1",
            "2002:7f00:1::",
        ] {
            assert!(!allowed(ip.parse().unwrap(), false), "{ip} must be refused");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.216.34", "2002:5db8:d822::1"] {
            assert!(allowed(ip.parse().unwrap(), false), "{ip} is public");
        }
        assert!(allowed("127.0.0.1".parse().unwrap(), true) && allowed("::1".parse().unwrap(), true));
        assert!(!allowed("10.0.0.1".parse().unwrap(), true), "the test allowance is loopback only");
    }
}
