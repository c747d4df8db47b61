//! Unit tests of the TOTP and recovery-code helpers.

use super::recovery::{new_recovery_code, normalize_recovery_code};
use super::*;

#[test]
fn recovery_codes_are_long_and_normalise() {
    let code = new_recovery_code();
    assert_eq!(code.len(), 14);
    let canonical = normalize_recovery_code(&code);
    assert_eq!(canonical.as_ref().map(String::len), Some(12), "12 symbols of 5 bits: 60 bits");
    assert_eq!(normalize_recovery_code(&code.to_uppercase().replace('-', " ")), canonical);
    assert_eq!(normalize_recovery_code("OIL0-abcd-efgh").as_deref(), Some("0110abcdefgh"));
    assert!(normalize_recovery_code("123456").is_none());
    assert!(normalize_recovery_code("uuuu-uuuu-uuuu").is_none());
    assert_ne!(new_recovery_code(), new_recovery_code());
}

#[test]
fn base32_matches_rfc4648() {
    assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    assert_eq!(base32(b"f"), "MY");
}

#[test]
fn codes_match_the_current_step_and_one_either_side() -> Result<(), AppError> {
    let totp = totp_for(b"12345678901234567890".to_vec(), "a@example.com")?;
    let now_ms = 1_700_000_015_000i64;
    let at = |offset_steps: i64| {
        let secs = u64::try_from(now_ms / 1000 + offset_steps * STEP_S).unwrap_or_default();
        totp.generate(secs).to_string()
    };
    let step = step_of(now_ms);
    assert_eq!(matching_step(&totp, &at(0), now_ms), Some(step));
    assert_eq!(matching_step(&totp, &at(-1), now_ms), Some(step - 1));
    assert_eq!(matching_step(&totp, &at(1), now_ms), Some(step + 1));
    assert_eq!(matching_step(&totp, &at(2), now_ms), None);
    assert_eq!(matching_step(&totp, &at(-2), now_ms), None);
    Ok(())
}

#[test]
fn qr_is_a_single_path_svg() -> Result<(), AppError> {
    let svg = qr_svg("otpauth://totp/Rampart:a%40example.com?secret=ABC&issuer=Rampart")?;
    assert!(svg.starts_with("<svg") && svg.contains("<path") && !svg.contains("style="));
    Ok(())
}
