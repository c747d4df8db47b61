//! Any text given to the key parser: it never panics, accepts only what `compose` could have made, and what
//! it accepts composes back to itself.
#![no_main]

#[path = "../../src/backend/keys/format.rs"]
#[allow(dead_code)]
mod format;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = format::parse(text) {
        assert_eq!(parsed.text, text);
        assert!(format::LABELS.contains(&parsed.label));
        let id_len = parsed.id.map_or(0, |id| id.len() + 1);
        let random_start = format::PREFIX.len() + parsed.label.len() + 1 + id_len;
        let random = &text[random_start..random_start + format::RANDOM_LEN];
        assert_eq!(format::compose(parsed.label, parsed.id, random), text);
        assert!(text.starts_with(&format::display_prefix(text)));
    }
    // A key built from any alphanumeric input always parses.
    let random: String = text.chars().filter(char::is_ascii_alphanumeric).take(format::RANDOM_LEN).collect();
    if random.len() == format::RANDOM_LEN {
        let label = format::LABELS[data.len() % format::LABELS.len()];
        let key = format::compose(label, None, &random);
        assert_eq!(format::parse(&key).map(|p| p.label), Ok(label));
        let id = &random[..format::ID_LEN];
        let key = format::compose(label, Some(id), &random);
        assert_eq!(format::parse(&key).map(|p| (p.label, p.id)), Ok((label, Some(id))));
    }
});
