//! The network guardrails of an API key: IP/CIDR allow lists (IPv4 and IPv6) and HTTP referer patterns.
//!
//! - A CIDR is normalised (host bits cleared); a bare address means that one address. An IPv4 client that
//!   reaches an IPv6 socket (`::ffff:a.b.c.d`) is matched as the IPv4 address it is.
//! - A referer pattern is `[scheme://]host[:port][/path]`; the host may start with `*.` for any subdomain
//!   (not the bare domain), and the path is a prefix (a trailing `*` is allowed and means the same). The
//!   Referer header is set by the caller, so these patterns only keep honest browsers from embedding a key
//!   elsewhere; they are no defence against a script (the console says so).
//!
//! This file depends on `std` and `ipnet` only: the fuzz target includes it as it is.

use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Most entries in one list: allow lists are for a few offices and servers, not a routing table.
pub const MAX_ENTRIES: usize = 100;

/// An address block (`ipnet`'s, with host bits cleared; IPv4-mapped IPv6 taken as the IPv4 it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(IpNet);

impl Cidr {
    /// Whether `ip` is inside the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }

    /// Whether the block is every address of its family (`0.0.0.0/0`, `::/0`).
    pub fn is_everything(&self) -> bool {
        self.0.prefix_len() == 0
    }

    /// Whether every address of `other` is inside this block.
    pub fn covers(&self, other: &Cidr) -> bool {
        self.0.contains(&other.0)
    }

    /// The first and last address of the block in the form of [`ip_key`], so a block is a range of keys.
    pub fn key_range(&self) -> (String, String) {
        (ip_key(self.0.network()), ip_key(self.0.broadcast()))
    }
}

/// An address as 32 hex digits of its IPv6 form (IPv4 as IPv4-mapped), so keys sort like addresses.
pub fn ip_key(ip: IpAddr) -> String {
    let v6 = match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    format!("{:032x}", u128::from(v6))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// Stricter than `IpNet`'s parser on what people type: a bare address is that one address, the prefix
    /// length is one to three digits, and an IPv4-mapped IPv6 address is the IPv4 address it is.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| format!("“{s}” is not an IP address or CIDR block"))?;
        let addr = canonical(addr);
        let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) if !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()) => {
                l.parse::<u8>().ok().filter(|n| *n <= max).ok_or_else(|| format!("“{s}”: prefix length over {max}"))?
            }
            Some(_) => return Err(format!("“{s}”: the prefix length must be a number")),
        };
        let net = IpNet::new(addr, len).map_err(|_| format!("“{s}”: prefix length over {max}"))?;
        Ok(Self(net.trunc()))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where the pattern's host may be.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// Any subdomain of this domain (`*.example.com`), not the domain itself.
    Subdomains(String),
}

/// An allowed referer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefererPattern {
    scheme: Option<String>,
    host: HostPattern,
    port: Option<u16>,
    path: String,
}

impl RefererPattern {
    /// Whether a Referer header value matches.
    pub fn matches(&self, referer: &str) -> bool {
        let Some(url) = SplitUrl::parse(referer) else {
            return false;
        };
        if self.scheme.as_deref().is_some_and(|s| s != url.scheme) {
            return false;
        }
        let host_ok = match &self.host {
            HostPattern::Exact(h) => *h == url.host,
            HostPattern::Subdomains(d) => {
                url.host.len() > d.len() + 1
                    && url.host.ends_with(d.as_str())
                    && url.host.as_bytes()[url.host.len() - d.len() - 1] == b'.'
            }
        };
        let port_ok = self.port.is_none_or(|p| Some(p) == url.port);
        host_ok && port_ok && url.path.starts_with(self.path.as_str())
    }
}

impl FromStr for RefererPattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let raw = s.trim();
        let bad = |why: &str| format!("“{raw}”: {why}");
        if raw.is_empty() || raw.len() > 300 {
            return Err(bad("a pattern is a host name with an optional scheme, port and path"));
        }
        let (scheme, rest) = match raw.split_once("://") {
            Some((sc, rest)) => {
                let sc = sc.to_ascii_lowercase();
                if sc != "http" && sc != "https" {
                    return Err(bad("the scheme must be http or https"));
                }
                (Some(sc), rest)
            }
            None => (None, raw),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let path = path.strip_suffix('*').unwrap_or(path);
        if path.contains('*') {
            return Err(bad("“*” may only end the path"));
        }
        // Lists are stored comma-separated and typed comma-, space- or line-separated.
        if path.contains(|c: char| c == ',' || c.is_whitespace() || c.is_control()) {
            return Err(bad("the path may not contain commas, spaces or control characters"));
        }
        let (host, port) = split_port(authority).ok_or_else(|| bad("the port must be a number"))?;
        let host = host.to_ascii_lowercase();
        let (wild, name) = match host.strip_prefix("*.") {
            Some(name) => (true, name.to_owned()),
            None => (false, host),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
            return Err(bad("the host must be a domain name, optionally starting with “*.”"));
        }
        let host = if wild { HostPattern::Subdomains(name) } else { HostPattern::Exact(name) };
        Ok(Self { scheme, host, port, path: path.to_owned() })
    }
}

impl fmt::Display for RefererPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.scheme {
            write!(f, "{s}://")?;
        }
        match &self.host {
            HostPattern::Exact(h) => f.write_str(h)?,
            HostPattern::Subdomains(d) => write!(f, "*.{d}")?,
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        f.write_str(&self.path)
    }
}

/// The parts of a Referer URL the patterns look at.
struct SplitUrl<'a> {
    scheme: String,
    host: String,
    port: Option<u16>,
    path: &'a str,
}

impl<'a> SplitUrl<'a> {
    fn parse(url: &'a str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        // Userinfo ("good.example@evil.example") belongs to the URL, not the host.
        let authority = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
        let (host, port) = split_port(authority)?;
        if host.is_empty() {
            return None;
        }
        let path = if tail.starts_with('/') { tail } else { "/" };
        let default_port = match scheme.as_str() {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        };
        Some(Self { scheme, host: host.to_ascii_lowercase(), port: port.or(default_port), path })
    }
}

/// Splits `host[:port]` (an IPv6 literal keeps its brackets); `None` when the port is not a number.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let host_end = if authority.starts_with('[') { authority.find(']').map(|i| i + 1)? } else { 0 };
    match authority[host_end..].rfind(':') {
        Some(i) => {
            let i = host_end + i;
            let port = &authority[i + 1..];
            if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some((&authority[..i], Some(port.parse().ok()?)))
        }
        None => Some((authority, None)),
    }
}

/// Parses a list of entries separated by commas, spaces or new lines; an empty text is an empty list.
pub fn parse_list<T: FromStr<Err = String>>(text: &str) -> Result<Vec<T>, String> {
    let items: Vec<&str> = text.split([',', ' ', '\n', '\r', '\t']).filter(|s| !s.is_empty()).collect();
    if items.len() > MAX_ENTRIES {
        return Err(format!("at most {MAX_ENTRIES} entries"));
    }
    items.into_iter().map(str::parse).collect()
}

/// Joins a list back into its stored form.
pub fn join_list<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    type Outcome = Result<(), String>;

    #[test]
    fn blocks_are_key_ranges() -> Outcome {
        let ip = |s: &str| s.parse::<IpAddr>().map_err(|e| e.to_string());
        let (lo, hi) = cidr("10.1.0.0/16")?.key_range();
        assert_eq!(lo, ip_key(ip("10.1.0.0")?));
        assert_eq!(hi, ip_key(ip("10.1.255.255")?));
        assert!(lo <= ip_key(ip("10.1.7.9")?) && ip_key(ip("10.1.7.9")?) <= hi);
        assert!(ip_key(ip("10.2.0.0")?) > hi);
        let (lo, hi) = cidr("2001:db8::/32")?.key_range();
        assert!(lo <= ip_key(ip("2001:db8::1")?) && ip_key(ip("2001:db8::1")?) <= hi);
        assert!(ip_key(ip("2001:db9::")?) > hi);
        let (lo, hi) = cidr("192.0.2.7/32")?.key_range();
        assert_eq!(lo, hi);
        Ok(())
    }

    fn cidr(s: &str) -> Result<Cidr, String> {
        s.parse()
    }

    fn ip(s: &str) -> Result<IpAddr, String> {
        s.parse().map_err(|e| format!("{s}: {e}"))
    }

    #[test]
    fn cidr_blocks_match_ipv4_and_ipv6() -> Outcome {
        assert!(cidr("10.1.0.0/16")?.contains(ip("10.1.200.3")?));
        assert!(!cidr("10.1.0.0/16")?.contains(ip("10.2.0.1")?));
        assert!(cidr("192.0.2.7")?.contains(ip("192.0.2.7")?));
        assert!(!cidr("192.0.2.7")?.contains(ip("192.0.2.8")?));
        assert!(cidr("2001:db8::/32")?.contains(ip("2001:db8:ffff::1")?));
        assert!(!cidr("2001:db8::/32")?.contains(ip("2001:db9::1")?));
        assert!(cidr("0.0.0.0/0")?.contains(ip("203.0.113.9")?));
        assert!(!cidr("0.0.0.0/0")?.contains(ip("::1")?));
        // An IPv4 client on an IPv6 socket is still that IPv4 client.
        assert!(cidr("127.0.0.0/8")?.contains(ip("::ffff:127.0.0.1")?));
        assert_eq!(cidr("10.1.2.3/8")?.to_string(), "10.0.0.0/8");
        Ok(())
    }

    #[test]
    fn bad_blocks_are_refused() {
        for bad in ["10.0.0.0/33", "::/129", "10.0.0/8", "10.0.0.0/", "10.0.0.0/x", "example.com", "1.2.3.4/0008"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn cover_is_containment() -> Outcome {
        assert!(cidr("10.0.0.0/8")?.covers(&cidr("10.1.0.0/16")?));
        assert!(!cidr("10.1.0.0/16")?.covers(&cidr("10.0.0.0/8")?));
        assert!(!cidr("10.0.0.0/8")?.covers(&cidr("2001:db8::/32")?));
        Ok(())
    }

    #[test]
    fn referer_patterns() -> Outcome {
        let p: RefererPattern = "https://shop.example.com/app/*".parse()?;
        assert!(p.matches("https://shop.example.com/app/cart?x=1"));
        assert!(!p.matches("http://shop.example.com/app/cart"));
        assert!(!p.matches("https://shop.example.com/admin"));
        assert!(!p.matches("https://shop.example.com.evil.io/app/"));
        assert!(!p.matches("https://shop.example.com@evil.io/app/"));
        let any: RefererPattern = "*.example.com".parse()?;
        assert!(any.matches("https://a.b.example.com/"));
        assert!(!any.matches("https://example.com/"));
        assert!(!any.matches("https://badexample.com/"));
        let port: RefererPattern = "localhost:8080".parse()?;
        assert!(port.matches("http://localhost:8080/x"));
        assert!(!port.matches("http://localhost:8081/x"));
        assert!(!port.matches("not a url"));
        assert_eq!(p.to_string(), "https://shop.example.com/app/");
        Ok(())
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in
            ["", "ftp://x.com", "exa mple.com", "*", "*.", "x.com/a*b", "x.com:99999", "-x.com", "a..b", "x.com/a,b"]
        {
            assert!(bad.parse::<RefererPattern>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lists_parse_with_any_separator() -> Outcome {
        let l: Vec<Cidr> = parse_list("10.0.0.0/8, 192.0.2.1\n2001:db8::/48")?;
        assert_eq!(join_list(&l), "10.0.0.0/8,192.0.2.1/32,2001:db8::/48");
        assert!(parse_list::<Cidr>("")?.is_empty());
        assert!(parse_list::<Cidr>(&"1.1.1.1 ".repeat(101)).is_err());
        Ok(())
    }
}
