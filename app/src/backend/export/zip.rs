//! A streaming ZIP writer for data exports (PKWARE APPNOTE 6.3.10): stored entries only (no compression: vault
//! files are mostly compressed already, and storing keeps the export at disk speed), ZIP64 records throughout so
//! entries and archives past 4 GiB work (§4.3.9, §4.4.3, §4.5.3), and a data descriptor after every entry
//! (flag bit 3), so each entry streams in one pass without seeking back to patch its header. Every entry's CRC-32
//! (`crc32fast`, SIMD) and SHA-256 (for the manifest) are computed as its bytes pass; nothing else touches them.
//!
//! Sans-I/O: bytes go to a [`Sink`] the caller owns (here, the vault's encryptor in front of a blob), so the
//! writer never buffers an entry and never blocks. Only the central directory (one small record per entry)
//! stays in memory until the end, as any ZIP writer must keep it.

use sha2::{Digest as _, Sha256};

/// Where the archive's bytes go.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A misuse of the writer (a bug of the caller, never of the data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    #[error("an entry is already open")]
    EntryOpen,
    #[error("no entry is open")]
    NoEntry,
    #[error("the entry name is empty or longer than 65535 bytes")]
    BadName,
}

/// What an entry held, for the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

struct Central {
    name: String,
    crc: u32,
    size: u64,
    offset: u64,
}

struct Open {
    name: String,
    offset: u64,
    crc: crc32fast::Hasher,
    /// Computed as the entry is written, unless the caller already knows the digest.
    sha: Result<Sha256, String>,
    size: u64,
}

/// Writes one archive to `S`.
pub struct ZipWriter<S> {
    sink: S,
    offset: u64,
    central: Vec<Central>,
    open: Option<Open>,
    time: u16,
    date: u16,
}

impl<S> std::fmt::Debug for ZipWriter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZipWriter").field("offset", &self.offset).field("entries", &self.central.len()).finish()
    }
}

const VERSION: u16 = 45; // ZIP64
const FLAGS: u16 = 0x0008 | 0x0800; // data descriptor, UTF-8 names
const MAX32: u64 = 0xFFFF_FFFF;

impl<S: Sink> ZipWriter<S> {
    /// A new archive whose entries are dated `at_ms` (epoch ms, UTC).
    pub fn new(sink: S, at_ms: i64) -> Self {
        let (time, date) = dos_time(at_ms);
        Self { sink, offset: 0, central: Vec::new(), open: None, time, date }
    }

    /// Bytes written so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The sink, to drain between writes.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    fn put(&mut self, bytes: &[u8]) {
        self.sink.put(bytes);
        self.offset += bytes.len() as u64;
    }

    /// Starts an entry: its local header, sizes deferred to the data descriptor.
    pub fn start_entry(&mut self, name: &str) -> Result<(), ZipError> {
        self.start(name, Ok(Sha256::new()))
    }

    /// Starts an entry whose SHA-256 is known already (a vault version: recorded at upload, and its content
    /// proven unchanged chunk by chunk by AES-GCM as it is read), so it is not computed a second time.
    pub fn start_entry_with_digest(&mut self, name: &str, sha256: &str) -> Result<(), ZipError> {
        self.start(name, Err(sha256.to_owned()))
    }

    fn start(&mut self, name: &str, sha: Result<Sha256, String>) -> Result<(), ZipError> {
        if self.open.is_some() {
            return Err(ZipError::EntryOpen);
        }
        let name_len = u16::try_from(name.len()).map_err(|_| ZipError::BadName)?;
        if name.is_empty() {
            return Err(ZipError::BadName);
        }
        let mut h = Vec::with_capacity(30 + name.len() + 20);
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&VERSION.to_le_bytes());
        h.extend_from_slice(&FLAGS.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // stored
        h.extend_from_slice(&self.time.to_le_bytes());
        h.extend_from_slice(&self.date.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes()); // CRC: in the data descriptor
        h.extend_from_slice(&u32::MAX.to_le_bytes()); // sizes: in the ZIP64 extra / data descriptor
        h.extend_from_slice(&u32::MAX.to_le_bytes());
        h.extend_from_slice(&name_len.to_le_bytes());
        h.extend_from_slice(&20u16.to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        h.extend_from_slice(&0x0001u16.to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(&[0u8; 16]);
        let offset = self.offset;
        self.put(&h);
        self.open = Some(Open { name: name.to_owned(), offset, crc: crc32fast::Hasher::new(), sha, size: 0 });
        Ok(())
    }

    /// Appends to the open entry.
    pub fn write(&mut self, data: &[u8]) -> Result<(), ZipError> {
        let open = self.open.as_mut().ok_or(ZipError::NoEntry)?;
        open.crc.update(data);
        if let Ok(sha) = &mut open.sha {
            sha.update(data);
        }
        open.size += data.len() as u64;
        self.put(data);
        Ok(())
    }

    /// Ends the open entry with its data descriptor; returns its name, size and SHA-256.
    pub fn finish_entry(&mut self) -> Result<Written, ZipError> {
        let open = self.open.take().ok_or(ZipError::NoEntry)?;
        let crc = open.crc.finalize();
        let mut d = Vec::with_capacity(24);
        d.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
        d.extend_from_slice(&crc.to_le_bytes());
        d.extend_from_slice(&open.size.to_le_bytes());
        d.extend_from_slice(&open.size.to_le_bytes());
        self.put(&d);
        let sha256 = match open.sha {
            Ok(sha) => hex::encode(sha.finalize()),
            Err(known) => known,
        };
        self.central.push(Central { name: open.name.clone(), crc, size: open.size, offset: open.offset });
        Ok(Written { name: open.name, size: open.size, sha256 })
    }

    /// Writes a whole small entry.
    pub fn entry(&mut self, name: &str, data: &[u8]) -> Result<Written, ZipError> {
        self.start_entry(name)?;
        self.write(data)?;
        self.finish_entry()
    }

    /// Writes the central directory and the end records; returns the sink and the archive's length.
    pub fn finish(mut self) -> Result<(S, u64), ZipError> {
        if self.open.is_some() {
            return Err(ZipError::EntryOpen);
        }
        let cd_start = self.offset;
        let central = std::mem::take(&mut self.central);
        for c in &central {
            let mut extra = Vec::new();
            if c.size >= MAX32 {
                extra.extend_from_slice(&c.size.to_le_bytes());
                extra.extend_from_slice(&c.size.to_le_bytes());
            }
            if c.offset >= MAX32 {
                extra.extend_from_slice(&c.offset.to_le_bytes());
            }
            let extra_len = if extra.is_empty() { 0 } else { extra.len() + 4 };
            let mut h = Vec::with_capacity(46 + c.name.len() + extra_len);
            h.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            h.extend_from_slice(&VERSION.to_le_bytes()); // made by (MS-DOS attributes)
            h.extend_from_slice(&VERSION.to_le_bytes());
            h.extend_from_slice(&FLAGS.to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            h.extend_from_slice(&self.time.to_le_bytes());
            h.extend_from_slice(&self.date.to_le_bytes());
            h.extend_from_slice(&c.crc.to_le_bytes());
            let size32 = c.size.min(MAX32) as u32;
            h.extend_from_slice(&size32.to_le_bytes());
            h.extend_from_slice(&size32.to_le_bytes());
            h.extend_from_slice(&(c.name.len() as u16).to_le_bytes());
            h.extend_from_slice(&(extra_len as u16).to_le_bytes());
            h.extend_from_slice(&[0u8; 10]); // comment length, disk, internal and external attributes
            h.extend_from_slice(&((c.offset.min(MAX32)) as u32).to_le_bytes());
            h.extend_from_slice(c.name.as_bytes());
            if !extra.is_empty() {
                h.extend_from_slice(&0x0001u16.to_le_bytes());
                h.extend_from_slice(&(extra.len() as u16).to_le_bytes());
                h.extend_from_slice(&extra);
            }
            self.put(&h);
        }
        let cd_size = self.offset - cd_start;
        let count = central.len() as u64;
        let eocd64 = self.offset;
        let mut e = Vec::with_capacity(56 + 20 + 22);
        e.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
        e.extend_from_slice(&44u64.to_le_bytes());
        e.extend_from_slice(&VERSION.to_le_bytes());
        e.extend_from_slice(&VERSION.to_le_bytes());
        e.extend_from_slice(&0u32.to_le_bytes());
        e.extend_from_slice(&0u32.to_le_bytes());
        e.extend_from_slice(&count.to_le_bytes());
        e.extend_from_slice(&count.to_le_bytes());
        e.extend_from_slice(&cd_size.to_le_bytes());
        e.extend_from_slice(&cd_start.to_le_bytes());
        e.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
        e.extend_from_slice(&0u32.to_le_bytes());
        e.extend_from_slice(&eocd64.to_le_bytes());
        e.extend_from_slice(&1u32.to_le_bytes());
        e.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        e.extend_from_slice(&0u32.to_le_bytes());
        let count16 = count.min(0xFFFF) as u16;
        e.extend_from_slice(&count16.to_le_bytes());
        e.extend_from_slice(&count16.to_le_bytes());
        e.extend_from_slice(&(cd_size.min(MAX32) as u32).to_le_bytes());
        e.extend_from_slice(&(cd_start.min(MAX32) as u32).to_le_bytes());
        e.extend_from_slice(&0u16.to_le_bytes());
        self.put(&e);
        Ok((self.sink, self.offset))
    }
}

/// MS-DOS time and date of an instant (UTC; DOS dates start in 1980).
fn dos_time(at_ms: i64) -> (u16, u16) {
    let secs = at_ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = crate::model::civil_from_days(days);
    let (month, day) = (i64::from(month), i64::from(day));
    if !(1980..=2107).contains(&year) {
        return (0, (1 << 5) | 1);
    }
    let time = ((rem / 3600) << 11) | (((rem % 3600) / 60) << 5) | ((rem % 60) / 2);
    let date = ((year - 1980) << 9) | (month << 5) | day;
    (time as u16, date as u16)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One entry as the `zip` crate sees it: a reader nobody here wrote, which checks every CRC as it reads.
    #[derive(Debug)]
    pub(crate) struct Read {
        pub name: String,
        pub crc: u32,
        pub data: Vec<u8>,
    }

    fn u16_at(b: &[u8], at: usize) -> usize {
        usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
    }
    fn u32_at(b: &[u8], at: usize) -> u64 {
        u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
    }
    fn u64_at(b: &[u8], at: usize) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(a)
    }

    /// Every entry, in order, read by the `zip` crate; the archive must end in ZIP64 records (the writer always
    /// writes them, so a multi-GiB export needs no other code path) and store its entries uncompressed.
    pub(crate) fn read_zip(b: &[u8]) -> Vec<Read> {
        let eocd = b.len() - 22;
        assert_eq!(u32_at(b, eocd - 20), 0x0706_4b50, "ZIP64 locator");
        let mut archive = ::zip::ZipArchive::new(std::io::Cursor::new(b)).expect("the zip crate reads the archive");
        (0..archive.len())
            .map(|i| {
                let mut entry = archive.by_index(i).expect("an entry");
                assert_eq!(entry.compression(), ::zip::CompressionMethod::Stored);
                let mut data = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut data).expect("the entry reads and its CRC checks");
                Read { name: entry.name().expect("a UTF-8 name").into_owned(), crc: entry.crc32(), data }
            })
            .collect()
    }

    fn archive(entries: &[(&str, Vec<u8>)]) -> Result<(Vec<u8>, Vec<Written>), ZipError> {
        let mut z = ZipWriter::new(Vec::new(), 1_795_000_000_000);
        let mut written = Vec::new();
        for (name, data) in entries {
            z.start_entry(name)?;
            for piece in data.chunks(1000) {
                z.write(piece)?;
            }
            written.push(z.finish_entry()?);
        }
        let (bytes, len) = z.finish()?;
        assert_eq!(len, bytes.len() as u64);
        Ok((bytes, written))
    }

    #[test]
    fn entries_round_trip_with_crc_sizes_and_digests() -> Result<(), ZipError> {
        let big: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let entries =
            [("manifest.json", b"{}".to_vec()), ("vault/été/r\u{e9}sum\u{e9}.pdf", big.clone()), ("empty", vec![])];
        let (bytes, written) = archive(&entries)?;
        let read = read_zip(&bytes);
        assert_eq!(read.len(), 3);
        for ((name, data), (r, w)) in entries.iter().zip(read.iter().zip(&written)) {
            assert_eq!((&r.name, &r.data), (&(*name).to_owned(), data));
            assert_eq!(w.size, data.len() as u64);
            assert_eq!(w.sha256, hex::encode(Sha256::digest(data)));
        }
        assert_eq!(read[2].crc, 0);
        Ok(())
    }

    #[test]
    fn misuse_is_refused() {
        let mut z = ZipWriter::new(Vec::new(), 0);
        assert_eq!(z.write(b"x"), Err(ZipError::NoEntry));
        assert_eq!(z.start_entry(""), Err(ZipError::BadName));
        assert_eq!(z.start_entry(&"a".repeat(70_000)), Err(ZipError::BadName));
        assert!(z.start_entry("a").is_ok());
        assert_eq!(z.start_entry("b"), Err(ZipError::EntryOpen));
        assert!(z.finish().is_err());
    }

    #[test]
    fn offsets_and_sizes_past_4_gib_use_zip64_fields() -> Result<(), ZipError> {
        // An archive that starts 5 GiB in (as if earlier entries were huge): the central directory must carry
        // ZIP64 offsets, and the end records too.
        let mut z = ZipWriter::new(Vec::new(), 0);
        z.offset = 5 << 30;
        z.entry("late", b"data")?;
        let base = z.offset - (30 + 4 + 20 + 4 + 24);
        assert_eq!(base, 5 << 30);
        let (bytes, _) = z.finish()?;
        // The central record: offset field saturated, ZIP64 extra holds the real one.
        let cd = 30 + 4 + 20 + 4 + 24;
        assert_eq!(u32_at(&bytes, cd + 42), MAX32);
        assert_eq!(u16_at(&bytes, cd + 46 + 4), 1);
        assert_eq!(u64_at(&bytes, cd + 46 + 4 + 4), 5 << 30);
        let eocd = bytes.len() - 22;
        assert_eq!(u32_at(&bytes, eocd + 16), MAX32, "central directory offset saturated");
        Ok(())
    }

    #[test]
    fn dos_dates_are_utc_civil_dates() {
        // 2026-11-28 13:45:30 UTC
        let (t, d) = dos_time(1_795_873_530_000);
        assert_eq!((d >> 9) + 1980, 2026);
        assert_eq!(((d >> 5) & 0xF, d & 0x1F), (11, 28));
        assert_eq!((t >> 11, (t >> 5) & 0x3F, (t & 0x1F) * 2), (13, 45, 30));
        assert_eq!(dos_time(0), (0, 33), "before 1980: the DOS epoch");
    }
}
