//! Any text given to the CIDR and referer parsers and matchers: no panic, normalised forms parse back to
//! the same value, and a block always contains its own network address.
#![no_main]

#[path = "../../src/backend/keys/guard.rs"]
#[allow(dead_code)]
mod guard;

use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is a pattern or block, the rest a candidate referer or address.
    let (head, tail) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(cidr) = head.parse::<guard::Cidr>() {
        let again: guard::Cidr = cidr.to_string().parse().expect("a normalised block parses");
        assert_eq!(again, cidr);
        let network: IpAddr = cidr.to_string().split('/').next().unwrap_or_default().parse().expect("an address");
        assert!(cidr.contains(network));
        assert!(cidr.covers(&cidr));
        if let Ok(ip) = tail.trim().parse::<IpAddr>() {
            let _ = cidr.contains(ip);
        }
    }
    if let Ok(pattern) = head.parse::<guard::RefererPattern>() {
        let again: guard::RefererPattern = pattern.to_string().parse().expect("a normalised pattern parses");
        assert_eq!(again, pattern);
        let _ = pattern.matches(tail);
    }
    let _ = guard::parse_list::<guard::Cidr>(text);
    let _ = guard::parse_list::<guard::RefererPattern>(text);
});
