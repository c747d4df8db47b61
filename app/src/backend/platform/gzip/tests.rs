use super::*;
use std::io::Read as _;

fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

fn joined(pieces: &[&[u8]], gap: &[u8]) -> Vec<u8> {
    pieces.join(gap)
}

fn spliced(pieces: &[&[u8]]) -> Spliced {
    Spliced::new(pieces.iter().map(|p| bytes::Bytes::copy_from_slice(p)).collect())
}

/// A page-like text: rows repeating with small differences, long enough for several output reservations.
fn page(rows: usize) -> Vec<u8> {
    (0..rows)
        .map(|i| format!("<tr><td>member-{i}@bench.example</td><td>member</td><td>{}</td></tr>\n", i * 7919 % 1000))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn pieces_and_gaps_come_back_as_the_text() {
    let body = page(400);
    let (a, rest) = body.split_at(1000);
    let (b, c) = rest.split_at(9000);
    for pieces in [vec![a, b, c], vec![&b""[..], a, &b""[..]], vec![a], vec![&b""[..]], vec![a, &b""[..], b]] {
        let spliced = spliced(&pieces);
        for gap in [&b""[..], b"N0nce+/=", &[0u8; 3][..]] {
            let answer = spliced.with(gap);
            assert_eq!(gunzip(&answer).unwrap(), joined(&pieces, gap), "{} pieces, gap {gap:?}", pieces.len());
        }
    }
}

#[test]
fn a_gap_longer_than_a_stored_block_is_split() {
    let gap = vec![b'x'; 70_000];
    let answer = spliced(&[&b"<p>"[..], b"</p>"]).with(&gap);
    assert_eq!(gunzip(&answer).unwrap(), joined(&[b"<p>", b"</p>"], &gap));
}

/// The per-answer value is never compressed with the page: it stands in the answer literally, and answers
/// with different values of one length have one length (no length oracle on it).
#[test]
fn the_gap_is_stored_literally_and_does_not_change_the_length() {
    let body = page(200);
    let nonce_in_page = b"member-17@bench";
    let spliced = spliced(&[&body[..], &body[..]]);
    let a = spliced.with(nonce_in_page);
    let b = spliced.with(b"zq9#kq9#zq9#kq9");
    assert!(a.windows(nonce_in_page.len()).any(|w| w == nonce_in_page), "stored as it is");
    assert_eq!(a.len(), b.len(), "a value the page repeats costs what any other does");
    assert!(a.len() < body.len() / 4, "the page itself is compressed: {} of {}", a.len(), body.len());
}

#[test]
fn compress_round_trips_and_the_checksum_is_checked() {
    let body = page(50);
    let answer = compress(&body);
    assert_eq!(gunzip(&answer).unwrap(), body);
    assert_eq!(gunzip(&compress(b"")).unwrap(), b"");
    // The decoder checks the CRC and the length: a wrong one is refused, so the ones written are right.
    for at in [answer.len() - 8, answer.len() - 1] {
        let mut bad = answer.clone();
        bad[at] ^= 1;
        assert!(gunzip(&bad).is_err(), "trailer byte {at} altered");
    }
}

fn headers(values: &[&str]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for v in values {
        h.append(http::header::ACCEPT_ENCODING, http::HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn accept_encoding_is_read_with_its_weights() {
    for yes in [&["gzip"][..], &["br, gzip, deflate"], &["GZIP;q=0.5"], &["x-gzip"], &["*"], &["br", "gzip"]] {
        assert!(accepted(&headers(yes)), "{yes:?}");
    }
    for no in [&[][..], &["br"], &["gzip;q=0"], &["gzip; q=0.000"], &["*, gzip;q=0"], &["*;q=0"], &["identity"]] {
        assert!(!accepted(&headers(no)), "{no:?}");
    }
}
