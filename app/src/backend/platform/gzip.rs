//! gzip (RFC 1952) for answers kept in memory and served many times: the signed-in pages of the page memo and
//! the REST member list. They are compressed once, when first served to a client that accepts gzip, and
//! every later answer costs a copy of the compressed bytes instead of encrypting and sending several times as
//! many.
//!
//! A kept page differs per response only in its CSP nonce. The page is compressed in pieces cut at the nonce,
//! each piece ending on a byte boundary with its own dictionary (a deflate full flush), and each response
//! splices its nonce in between as a *stored* deflate block (RFC 1951 §3.2.4): literal bytes, never matched
//! against the page. So the nonce is not compressed with anything, and the size of an answer says nothing
//! about it (no BREACH-style length oracle on the one secret a page carries). Session cookies are also
//! `SameSite=Strict`, so another site cannot make a browser fetch the pages with its cookie to measure them.

use flate2::{Compress, Compression, FlushCompress, Status};

/// The gzip member header: magic, deflate, no flags, no time, no extra flags, OS unknown.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// The last deflate block: an empty stored block with BFINAL set.
const LAST_BLOCK: [u8; 5] = [1, 0, 0, 0xff, 0xff];

/// Whether the client's `Accept-Encoding` accepts gzip (RFC 9110 §12.5.3): `gzip`, `x-gzip` or `*` with a
/// non-zero weight; an explicit `gzip;q=0` refuses it whatever `*` says.
pub fn accepted(headers: &http::HeaderMap) -> bool {
    let mut star = false;
    for value in headers.get_all(http::header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let weight_zero = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
                    .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                return !weight_zero;
            }
            if coding == "*" {
                star = !weight_zero;
            }
        }
    }
    star
}

/// `data` as one gzip member.
pub fn compress(data: &[u8]) -> Vec<u8> {
    Spliced::new(vec![bytes::Bytes::copy_from_slice(data)]).with(&[])
}

/// A text compressed in pieces, with a value (the same for every gap of one answer) spliced between them.
#[derive(Debug, Clone)]
pub struct Spliced {
    /// Each piece as deflate blocks that end on a byte boundary and refer to nothing before them.
    deflated: Vec<Vec<u8>>,
    /// The pieces themselves (shared, not copied), for the checksum, which covers the uncompressed text.
    raw: Vec<bytes::Bytes>,
    raw_len: usize,
}

impl Spliced {
    /// Compresses `pieces` (a text cut wherever the per-answer value goes).
    pub fn new(pieces: Vec<bytes::Bytes>) -> Self {
        let deflated = pieces.iter().map(|p| deflate_piece(p)).collect();
        let raw_len = pieces.iter().map(bytes::Bytes::len).sum();
        Self { deflated, raw: pieces, raw_len }
    }

    /// The compressed size, without the gaps.
    fn compressed_len(&self) -> usize {
        self.deflated.iter().map(Vec::len).sum::<usize>() + HEADER.len() + LAST_BLOCK.len() + 8
    }

    /// The gzip member of the pieces with `gap` between each two, stored uncompressed.
    pub fn with(&self, gap: &[u8]) -> Vec<u8> {
        let gaps = self.deflated.len().saturating_sub(1);
        let mut out = Vec::with_capacity(self.compressed_len() + gaps * (gap.len() + 5 * (gap.len() / 0xffff + 1)));
        out.extend_from_slice(&HEADER);
        let mut crc = crc32fast::Hasher::new();
        for (i, (deflated, raw)) in self.deflated.iter().zip(&self.raw).enumerate() {
            if i > 0 {
                stored(&mut out, gap);
                crc.update(gap);
            }
            out.extend_from_slice(deflated);
            crc.update(raw);
        }
        out.extend_from_slice(&LAST_BLOCK);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        let total = self.raw_len + gaps * gap.len();
        // ISIZE is the length modulo 2^32 (RFC 1952 §2.3.1).
        out.extend_from_slice(&((total & 0xffff_ffff) as u32).to_le_bytes());
        out
    }
}

/// `bytes` as non-final stored blocks (at most 65,535 bytes each), starting and ending on a byte boundary.
fn stored(out: &mut Vec<u8>, bytes: &[u8]) {
    for chunk in bytes.chunks(0xffff) {
        let len = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

/// `piece` as raw deflate ended by a full flush: byte-aligned, not final, no reference before its start.
fn deflate_piece(piece: &[u8]) -> Vec<u8> {
    if piece.is_empty() {
        return Vec::new();
    }
    let mut c = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(piece.len() / 3 + 64);
    loop {
        let start = usize::try_from(c.total_in()).unwrap_or(piece.len()).min(piece.len());
        if !matches!(c.compress_vec(&piece[start..], &mut out, FlushCompress::Full), Ok(Status::Ok | Status::BufError))
        {
            // Not expected of an in-memory compressor; stored blocks are valid deflate all the same.
            out.clear();
            stored(&mut out, piece);
            return out;
        }
        // The flush is complete once all input is taken and the output had room to spare (zlib's rule).
        if usize::try_from(c.total_in()).is_ok_and(|n| n == piece.len()) && out.len() < out.capacity() {
            return out;
        }
        out.reserve(out.capacity().max(256));
    }
}

#[cfg(test)]
mod tests;
