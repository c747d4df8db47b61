//! Property tests against naive references: a key's scopes never exceed its maker's, and the CIDR and referer
//! guardrails agree with the plainest reading of their rules.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::guard::{Cidr, RefererPattern};
use crate::model::{Access, ApiResource, Permission, Role, Scopes};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Owner), Just(Role::Admin), Just(Role::Member), Just(Role::Auditor)]
}

fn grants() -> impl Strategy<Value = Vec<Permission>> {
    any::<u8>().prop_map(|bits| {
        Permission::ALL.into_iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, p)| p).collect()
    })
}

fn access() -> impl Strategy<Value = Access> {
    prop_oneof![Just(Access::None), Just(Access::Read), Just(Access::Write)]
}

fn scopes() -> impl Strategy<Value = Scopes> {
    (access(), access(), access()).prop_map(|(m, h, v)| {
        Scopes(vec![(ApiResource::Members, m), (ApiResource::AccessHistory, h), (ApiResource::Vault, v)])
    })
}

/// The rule of finding 1, read literally: vault read ⇐ *Vault (read)*, vault write ⇐ *Vault (write)*, members
/// ⇐ *Team*; owners and admins hold every feature, auditors the history. The access history is read-only
/// whatever the level (no route writes it), so *Access history* reaches it at any level: a write key's
/// `access_history: write` gives nothing a read would not.
fn naive_maker(role: Role, grants: &[Permission], r: ApiResource) -> Access {
    let holds = |p: Permission| match role {
        Role::Owner | Role::Admin => true,
        Role::Auditor => p == Permission::AccessHistory,
        Role::Member => grants.contains(&p),
    };
    match r {
        ApiResource::Members if holds(Permission::Team) => Access::Write,
        ApiResource::AccessHistory if holds(Permission::AccessHistory) => Access::Write,
        ApiResource::Vault if holds(Permission::VaultWrite) => Access::Write,
        ApiResource::Vault if holds(Permission::VaultRead) => Access::Read,
        _ => Access::None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn a_keys_scopes_never_exceed_its_makers(role in role(), grants in grants(), asked in scopes()) {
        let maker = Scopes::of_maker(role, &grants);
        for r in ApiResource::ALL {
            prop_assert_eq!(maker.access(r), naive_maker(role, &grants, r), "{:?}", r);
        }
        // What verification leaves of a key: never beyond the maker, never beyond the key.
        let effective = asked.intersect(&maker);
        prop_assert!(effective.within(&maker) && effective.within(&asked));
        // Creation's test: allowed exactly when no resource asks for more than the maker holds.
        let naive_ok = ApiResource::ALL.into_iter().all(|r| asked.access(r) <= naive_maker(role, &grants, r));
        prop_assert_eq!(asked.within(&maker), naive_ok);
    }
}

fn bits(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{:032b}", u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("{:032b}", u32::from(v4)),
            None => format!("{:0128b}", u128::from(v6)),
        },
    }
}

/// Inside the block: same family, and the first `len` bits of the address equal the block's.
fn naive_contains(net: IpAddr, len: usize, ip: IpAddr) -> bool {
    let (a, b) = (bits(net), bits(ip));
    a.len() == b.len() && a[..len] == b[..len]
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(n))),
        // IPv4-mapped IPv6 counts as the IPv4 address.
        any::<u32>().prop_map(|n| IpAddr::V6(Ipv4Addr::from(n).to_ipv6_mapped())),
        any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from(n))),
        // Neighbours share long prefixes, where off-by-one errors live.
        (any::<u32>(), 0u32..4).prop_map(|(n, d)| IpAddr::V4(Ipv4Addr::from(n & !3 | d))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn cidr_blocks_agree_with_bit_comparison(net in ip(), len_seed in any::<u8>(), probe in ip(), near in any::<bool>()) {
        let width = bits(net).len();
        let len = usize::from(len_seed) % (width + 1);
        // Half the probes are inside the block's neighbourhood: the net with its last bits changed.
        let probe = match (near, net, probe) {
            (true, IpAddr::V4(n), IpAddr::V4(p)) => IpAddr::V4(Ipv4Addr::from(u32::from(n) ^ (u32::from(p) & 0xff))),
            (true, IpAddr::V6(n), IpAddr::V6(p)) => IpAddr::V6(Ipv6Addr::from(u128::from(n) ^ (u128::from(p) & 0xffff))),
            _ => probe,
        };
        let block: Cidr = format!("{net}/{len}").parse().unwrap();
        prop_assert_eq!(block.contains(probe), naive_contains(net, len, probe), "{} ∋ {}", block, probe);
        // A block covers another exactly when it is no longer and holds its network address.
        let other_len = usize::from(len_seed / 3) % (bits(probe).len() + 1);
        let other: Cidr = format!("{probe}/{other_len}").parse().unwrap();
        let naive_covers = bits(probe).len() == width
            && other_len >= len
            && naive_contains(net, len, probe);
        prop_assert_eq!(block.covers(&other), naive_covers, "{} ⊇ {}", block, other);
    }
}

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,4}"
}

fn host() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..4).prop_map(|l| l.join("."))
}

#[derive(Debug, Clone)]
struct Pattern {
    scheme: Option<&'static str>,
    wild: bool,
    host: String,
    port: Option<u16>,
    path: String,
    star: bool,
}

#[derive(Debug, Clone)]
struct Url {
    scheme: &'static str,
    user: bool,
    host: String,
    port: Option<u16>,
    path: String,
    query: bool,
}

fn scheme() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("http"), Just("https")]
}

fn port() -> impl Strategy<Value = Option<u16>> {
    prop::option::of(prop_oneof![Just(443u16), Just(80u16), Just(8443u16), 1u16..3])
}

fn path() -> impl Strategy<Value = String> {
    "(/[ab]{0,2}){0,3}"
}

fn pattern() -> impl Strategy<Value = Pattern> {
    (prop::option::of(scheme()), any::<bool>(), host(), port(), path(), any::<bool>()).prop_map(
        |(scheme, wild, host, port, path, star)| {
            // "*" only ends a path.
            let star = star && !path.is_empty();
            Pattern { scheme, wild, host, port, path, star }
        },
    )
}

/// A referer built from (often) the pattern's own parts, so that matches are common.
fn url_for(p: Pattern) -> impl Strategy<Value = (Pattern, Url)> {
    let host = prop_oneof![
        Just(p.host.clone()),
        label().prop_map({
            let h = p.host.clone();
            move |l| format!("{l}.{h}")
        }),
        host(),
    ];
    let path = prop_oneof![
        Just(p.path.clone()),
        path().prop_map({
            let base = p.path.clone();
            move |tail| format!("{base}{tail}")
        }),
        path(),
    ];
    (scheme(), any::<bool>(), host, prop_oneof![Just(p.port), port()], path, any::<bool>()).prop_map(
        move |(scheme, user, host, port, path, query)| (p.clone(), Url { scheme, user, host, port, path, query }),
    )
}

/// The rule read literally: the scheme if given, the host exactly (or any subdomain of it, never itself, after
/// `*.`), the port if given, and a path starting with the pattern's (whose one trailing `*` means "anything");
/// userinfo and query are not the host or the path.
fn naive_matches(p: &Pattern, u: &Url) -> bool {
    let scheme_ok = p.scheme.is_none_or(|s| s == u.scheme);
    let host_ok = if p.wild {
        u.host.len() > p.host.len() + 1 && u.host.ends_with(&format!(".{}", p.host))
    } else {
        u.host == p.host
    };
    // A URL without a port has its scheme's (80, 443).
    let url_port = u.port.unwrap_or(if u.scheme == "https" { 443 } else { 80 });
    let port_ok = p.port.is_none_or(|port| port == url_port);
    // A URL without a path has the path `/` (RFC 3986 §6.2.3).
    let path = if u.path.is_empty() { "/" } else { u.path.as_str() };
    scheme_ok && host_ok && port_ok && path.starts_with(&p.path)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn referer_patterns_agree_with_the_rule((p, u) in pattern().prop_flat_map(url_for)) {
        let text = format!(
            "{}{}{}{}{}{}",
            p.scheme.map(|s| format!("{s}://")).unwrap_or_default(),
            if p.wild { "*." } else { "" },
            p.host,
            p.port.map(|n| format!(":{n}")).unwrap_or_default(),
            p.path,
            if p.star { "*" } else { "" },
        );
        let pattern: RefererPattern = text.parse().unwrap();
        let referer = format!(
            "{}://{}{}{}{}{}",
            u.scheme,
            if u.user { "someone@" } else { "" },
            u.host,
            u.port.map(|n| format!(":{n}")).unwrap_or_default(),
            u.path,
            if u.query { "?q=1" } else { "" },
        );
        prop_assert_eq!(pattern.matches(&referer), naive_matches(&p, &u), "{} vs {}", text, referer);
    }
}
