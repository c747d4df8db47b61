//! The text of an API key: `rmp_<kind>_<id>_<40 random base-62 characters><6 base-62 check characters>`, where
//! `<id>` is the key's public id (12 base-62 characters, not secret): a wrong secret with a known id is a
//! failed authentication against that key. Keys made before the id existed (`rmp_<kind>_<random><check>`) keep
//! working and are flagged for a roll.
//!
//! - The prefix and kind make a leaked key recognisable to people and to secret scanners (as GitHub's and
//!   Stripe's prefixes do); a canary key carries the prefix of the kind it poses as.
//! - 40 characters drawn uniformly from 62 carry 238 bits, above the 192 the policy asks for.
//! - The check characters are the CRC-32 of everything before them, so a scanner (or this parser) can tell a
//!   typo or a random string from a real key without asking the database.
//!
//! This file depends on `std` only: the fuzz target includes it as it is.

/// Every key starts with this.
pub const PREFIX: &str = "rmp_";
/// The kinds a key's text can show (a canary shows one of these too).
pub const LABELS: [&str; 4] = ["master", "write", "read", "restricted"];
/// Random characters in a key.
pub const RANDOM_LEN: usize = 40;
/// Characters of a key's public id.
pub const ID_LEN: usize = 12;
/// Check characters at the end (62^6 > 2^32).
const CHECK_LEN: usize = 6;
/// Random characters kept in the display prefix: enough to tell keys apart, far too few to guess one.
const DISPLAY_RANDOM: usize = 4;
/// The longest valid key (the longest label), with room to spare; anything longer is refused unread.
pub const MAX_LEN: usize = 80;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a text is not a key. Never shown to the caller (every bad key gets the same 401); recorded in the
/// access history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatError {
    TooLong,
    Prefix,
    Label,
    Length,
    Charset,
    Checksum,
}

/// A well-formed key: its kind label, its public id (none in the first format), and the whole text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    pub label: &'a str,
    pub id: Option<&'a str>,
    pub text: &'a str,
}

/// Checks the shape and the check characters of a presented key.
pub fn parse(text: &str) -> Result<ParsedKey<'_>, FormatError> {
    if text.len() > MAX_LEN {
        return Err(FormatError::TooLong);
    }
    let rest = text.strip_prefix(PREFIX).ok_or(FormatError::Prefix)?;
    let (label, tail) = rest.split_once('_').ok_or(FormatError::Label)?;
    let label = LABELS.iter().find(|l| **l == label).copied().ok_or(FormatError::Label)?;
    let (id, tail) = match tail.split_once('_') {
        Some((id, rest)) => {
            if id.len() != ID_LEN {
                return Err(FormatError::Length);
            }
            (Some(id), rest)
        }
        None => (None, tail),
    };
    if tail.len() != RANDOM_LEN + CHECK_LEN {
        return Err(FormatError::Length);
    }
    if !tail.bytes().all(|b| b.is_ascii_alphanumeric()) || !id.unwrap_or("").bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(FormatError::Charset);
    }
    // All ASCII from here on, so byte offsets are character boundaries.
    let body_len = text.len() - CHECK_LEN;
    if check_chars(&text.as_bytes()[..body_len]) != text.as_bytes()[body_len..] {
        return Err(FormatError::Checksum);
    }
    Ok(ParsedKey { label, id, text })
}

/// Builds a key from its label, its public id (`ID_LEN` base-62 characters; `None` only for the first format)
/// and `RANDOM_LEN` random base-62 characters (the caller draws them).
pub fn compose(label: &str, id: Option<&str>, random: &str) -> String {
    let mut text = match id {
        Some(id) => format!("{PREFIX}{label}_{id}_{random}"),
        None => format!("{PREFIX}{label}_{random}"),
    };
    let check = check_chars(text.as_bytes());
    text.extend(check.iter().map(|b| char::from(*b)));
    text
}

/// The non-secret part shown in lists: prefix, kind, public id and the first random characters.
pub fn display_prefix(text: &str) -> String {
    let head = text.rfind('_').map_or(0, |i| i + 1);
    text.chars().take(head + DISPLAY_RANDOM).collect()
}

fn check_chars(body: &[u8]) -> [u8; CHECK_LEN] {
    let mut n = u64::from(crc32(body));
    let mut out = [b'0'; CHECK_LEN];
    for slot in out.iter_mut().rev() {
        // `n % 62` is below 62, so the index is in range.
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), a byte at a time: every keyed request checks one.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc = CRC_TABLE[usize::from((crc as u8) ^ byte)] ^ (crc >> 8);
    }
    !crc
}

/// The CRC of each byte value, computed at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "aB3dE5gH7jK9mN1pQ3sT5vW7yZ0bC2eF4hJ6kL8n";

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn a_composed_key_parses_back() {
        let key = compose("read", None, RANDOM);
        assert!(key.starts_with("rmp_read_"));
        assert_eq!(key.len(), "rmp_read_".len() + RANDOM_LEN + CHECK_LEN);
        assert_eq!(parse(&key), Ok(ParsedKey { label: "read", id: None, text: &key }));
        assert_eq!(display_prefix(&key), "rmp_read_aB3d");
        let key = compose("restricted", Some("Zy0123456789"), RANDOM);
        assert!(key.len() <= MAX_LEN);
        assert_eq!(parse(&key), Ok(ParsedKey { label: "restricted", id: Some("Zy0123456789"), text: &key }));
        assert_eq!(display_prefix(&key), "rmp_restricted_Zy0123456789_aB3d");
    }

    #[test]
    fn every_flaw_is_named() {
        let key = compose("write", None, RANDOM);
        let mut typo = key.clone().into_bytes();
        typo[12] = if typo[12] == b'x' { b'y' } else { b'x' };
        assert_eq!(parse(std::str::from_utf8(&typo).unwrap_or_default()), Err(FormatError::Checksum));
        assert_eq!(parse(&key.replace("rmp_", "rmq_")), Err(FormatError::Prefix));
        assert_eq!(parse(&key.replace("_write_", "_admin_")), Err(FormatError::Label));
        assert_eq!(parse(&key[..key.len() - 1]), Err(FormatError::Length));
        assert_eq!(parse(&key.replacen('a', "-", 1)), Err(FormatError::Charset));
        assert_eq!(parse(&"x".repeat(100)), Err(FormatError::TooLong));
        assert_eq!(parse("rmp_é_"), Err(FormatError::Label));
        let with_id = compose("read", Some("abcdefABCDEF"), RANDOM);
        assert_eq!(parse(&with_id.replace("_abcdefABCDEF_", "_abcdefABCDE_")), Err(FormatError::Length));
        assert_eq!(parse(&with_id.replace("_abcdefABCDEF_", "_abcdefABCDE-_")), Err(FormatError::Charset));
    }
}
