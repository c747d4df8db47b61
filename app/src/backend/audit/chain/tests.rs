use super::*;

/// Numbers are written as `to_string` writes them, the longest included.
#[test]
fn decimals_are_written_as_to_string_writes_them() {
    for n in [0, 1, -1, 9, 10, 1_733_000_000_000, i64::MAX, i64::MIN] {
        assert_eq!(Decimal::of(n).as_str(), n.to_string());
    }
}

/// The canonical forms, written the plain way (as the README's offline check does), give the same MACs.
#[test]
fn the_macs_are_those_of_the_documented_canonical_forms() {
    use hmac::Mac as _;
    let key = [7u8; 32];
    let l = Link { detail: "GET /api/v1/members → 200 (0 ms) ✓", seq: 1_234_567, created_at: -3, ..link(GENESIS) };
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&key).unwrap();
    mac.update(b"rampart-audit-v1\n");
    let (seq, at) = (l.seq.to_string(), l.created_at.to_string());
    for f in [
        l.chain,
        &seq,
        l.id,
        &at,
        l.account_id,
        l.actor,
        l.action,
        l.outcome,
        l.ip,
        l.user_agent,
        l.detail,
        l.key_id,
        l.prev_mac,
    ] {
        mac.update(format!("{}:{f}\n", f.len()).as_bytes());
    }
    assert_eq!(l.mac(&key), hex::encode(mac.finalize().into_bytes()));

    let mut head = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&key).unwrap();
    head.update(b"rampart-audit-head-v1\n");
    for f in ["t1", "1234567", "ab12", "-1", GENESIS] {
        head.update(format!("{}:{f}\n", f.len()).as_bytes());
    }
    assert_eq!(head_mac(&key, "t1", 1_234_567, "ab12", -1, GENESIS), hex::encode(head.finalize().into_bytes()));
}

fn link(prev: &str) -> Link<'_> {
    Link {
        chain: "t1",
        seq: 1,
        id: "e1",
        created_at: 5,
        account_id: "",
        actor: "a@b.c",
        action: "sign_in",
        outcome: "success",
        ip: "127.0.0.1",
        user_agent: "ua",
        detail: "",
        key_id: "",
        prev_mac: prev,
    }
}

#[test]
fn a_batch_is_inserted_in_powers_of_two_of_at_most_64_rows() {
    let mut shapes = std::collections::BTreeSet::new();
    for n in 0..=1000 {
        let sizes: Vec<usize> = insert_sizes(n).collect();
        assert_eq!(sizes.iter().sum::<usize>(), n, "{n}: every row once");
        assert!(sizes.iter().all(|s| s.is_power_of_two() && *s <= ROWS_PER_INSERT), "{n}: {sizes:?}");
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{n}: largest first: {sizes:?}");
        assert!(sizes.iter().filter(|s| **s < ROWS_PER_INSERT).count() <= 6, "{n}: {sizes:?}");
        shapes.extend(sizes);
    }
    assert_eq!(shapes.into_iter().collect::<Vec<_>>(), [1, 2, 4, 8, 16, 32, 64]);
    for anonymous in [true, false] {
        for size in [1, 2, 64] {
            let sql = insert_sql(anonymous, size);
            assert_eq!(sql.matches('(').count(), size + 1, "{sql}");
            assert_eq!(sql.matches(if anonymous { "?" } else { "$" }).count(), 16 * size, "{sql}");
        }
    }
    assert!(insert_sql(false, 64).ends_with(", $1024)"));
}

#[test]
fn every_field_and_its_boundaries_count() {
    let key = [3u8; 32];
    let base = link(GENESIS).mac(&key);
    assert_eq!(base.len(), 64);
    assert_ne!(base, Link { detail: "x", ..link(GENESIS) }.mac(&key));
    assert_ne!(base, link("1").mac(&key));
    assert_ne!(base, link(GENESIS).mac(&[4u8; 32]));
    // Moving a character from one field to the next changes the MAC (length prefixes).
    let a = Link { actor: "ab", action: "c", ..link(GENESIS) }.mac(&key);
    let b = Link { actor: "a", action: "bc", ..link(GENESIS) }.mac(&key);
    assert_ne!(a, b);
}
