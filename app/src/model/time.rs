//! Formatting instants for people, identically on the server and in the browser (no time-zone database:
//! the console shows UTC, and says so).

/// Formats epoch milliseconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let Ok(year @ 0..=9999) = u32::try_from(y) else {
        return format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60, rem % 60);
    };
    // Pages show many instants (the history shows one per row): digits pushed into one exact-size buffer
    // instead of the formatting machinery, which was 5 % of an overview render.
    let rem = u32::try_from(rem).unwrap_or(0);
    let mut out = String::with_capacity(23);
    push_digits(&mut out, year, 4);
    out.push('-');
    push_digits(&mut out, m, 2);
    out.push('-');
    push_digits(&mut out, d, 2);
    out.push(' ');
    push_digits(&mut out, rem / 3600, 2);
    out.push(':');
    push_digits(&mut out, (rem % 3600) / 60, 2);
    out.push(':');
    push_digits(&mut out, rem % 60, 2);
    out.push_str(" UTC");
    out
}

/// `value` as exactly `width` decimal digits, zero-padded (the caller keeps it below `10^width`).
fn push_digits(out: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u32.pow(place)) % 10;
        out.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
    }
}

/// Formats epoch milliseconds as RFC 3339 UTC with milliseconds, `YYYY-MM-DDTHH:MM:SS.mmmZ` (exports).
pub fn format_rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// A `YYYY-MM-DD` date as the epoch milliseconds of its first instant (UTC).
pub fn parse_date_utc(s: &str) -> Option<i64> {
    // Exactly YYYY-MM-DD (RFC 3339's full-date), any year from 1 to 9999.
    let s = s.trim();
    let digits = |part: &str, len: usize| -> Option<i64> {
        (part.len() == len && part.bytes().all(|b| b.is_ascii_digit())).then(|| part.parse().ok()).flatten()
    };
    let mut parts = s.splitn(3, '-');
    let y = digits(parts.next()?, 4)?;
    let m = digits(parts.next()?, 2)?;
    let d = digits(parts.next()?, 2)?;
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if d > days_in[usize::try_from(m - 1).ok()?] {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400_000)
}

/// A proleptic Gregorian date to days since 1970-01-01 (the inverse of `civil_from_days`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm): the one calendar
/// function (dates shown, parsed, and written into ZIP entries all use it).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc(1_795_600_245_000), "2026-11-25 09:50:45 UTC");
        assert_eq!(format_utc(1_795_000_000_000), "2026-11-18 11:06:40 UTC");
        assert_eq!(format_utc(253_402_300_799_999), "9999-12-31 23:59:59 UTC");
        assert_eq!(format_utc(-1), "1969-12-31 23:59:59 UTC");
        assert_eq!(format_utc(-62_167_219_200_001), "-001-12-31 23:59:59 UTC");
        assert_eq!(format_utc(253_402_300_800_000), "10000-01-01 00:00:00 UTC");
    }

    #[test]
    fn dates_parse_to_utc_midnight() {
        assert_eq!(parse_date_utc("1970-01-01"), Some(0));
        assert_eq!(parse_date_utc("2025-11-26"), Some(1_764_115_200_000));
        assert_eq!(parse_date_utc("2024-02-29"), Some(1_709_164_800_000));
        assert_eq!(parse_date_utc("2023-02-29"), None);
        assert_eq!(parse_date_utc("2026-13-01"), None);
        assert_eq!(parse_date_utc("yesterday"), None);
        // Exactly YYYY-MM-DD, any year from 1 (RFC 3339 full-date, as the OpenAPI document says).
        assert_eq!(parse_date_utc("0001-01-01"), Some(-62_135_596_800_000));
        for bad in ["2026-1-01", "+2026-01-01", "02026-01-01", "0000-01-01", "2026-01-1"] {
            assert_eq!(parse_date_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339(1_764_126_245_123), "2025-11-26T03:04:05.123Z");
    }
}
