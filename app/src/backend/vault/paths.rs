//! Vault paths: what a client may name a file. Paths are logical names kept in the database; they never
//! reach the filesystem (blobs are named by server-made ids), but they are still held to clear rules so a
//! listing cannot be made confusing: NFC, `/`-separated segments, no empty, `.` or `..` segment, no control
//! characters or backslashes, at most 255 bytes a segment, 1024 in all, 32 segments deep.

use crate::model::AppError;
use unicode_normalization::UnicodeNormalization as _;

pub const MAX_PATH_BYTES: usize = 1024;
const MAX_SEGMENT_BYTES: usize = 255;
const MAX_DEPTH: usize = 32;

/// A checked path split into its folder (`""` or ending in `/`) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultPath {
    pub path: String,
    pub folder: String,
    pub name: String,
}

fn bad(msg: &str) -> AppError {
    AppError::validation("path", msg)
}

/// Checks a file path (a leading `/` is ignored).
pub fn file_path(input: &str) -> Result<VaultPath, AppError> {
    let segments = segments(input)?;
    let Some((name, parents)) = segments.split_last() else { return Err(bad("Give the file a name.")) };
    let folder = parents.iter().map(|s| format!("{s}/")).collect::<String>();
    Ok(VaultPath { path: format!("{folder}{name}"), folder, name: name.clone() })
}

/// Checks a folder path; returns `""` for the root or the folder ending in `/`.
pub fn folder_path(input: &str) -> Result<String, AppError> {
    let trimmed = input.trim().trim_end_matches('/');
    if trimmed.trim_start_matches('/').is_empty() {
        return Ok(String::new());
    }
    Ok(segments(trimmed)?.iter().map(|s| format!("{s}/")).collect())
}

fn segments(input: &str) -> Result<Vec<String>, AppError> {
    let normal: String = input.trim().trim_start_matches('/').nfc().collect();
    if normal.len() > MAX_PATH_BYTES {
        return Err(bad("The path is longer than 1024 bytes."));
    }
    if normal.chars().any(|c| c.is_control() || c == '\\') {
        return Err(bad("The path may not contain control characters or backslashes."));
    }
    // Characters that change how a name reads without showing themselves: `invoice\u{202E}fdp.exe` lists as
    // "invoiceexe.pdf", and a zero-width space makes two names look the same.
    if normal.chars().any(invisible) {
        return Err(bad("The path may not contain invisible or text-direction characters."));
    }
    let parts: Vec<String> = normal.split('/').map(str::to_owned).collect();
    if parts.len() > MAX_DEPTH {
        return Err(bad("Folders nest at most 32 deep."));
    }
    for p in &parts {
        if p.is_empty() {
            return Err(bad("The path has an empty segment (`//` or a trailing `/`)."));
        }
        if p == "." || p == ".." {
            return Err(bad("`.` and `..` are not allowed in a path."));
        }
        if p.len() > MAX_SEGMENT_BYTES {
            return Err(bad("Each folder or file name is at most 255 bytes."));
        }
        if p.trim() != p {
            return Err(bad("Names may not start or end with spaces."));
        }
    }
    Ok(parts)
}

/// Unicode format characters that reorder or hide text (bidirectional marks, overrides and isolates, the
/// zero-width space, word joiners, the byte-order mark, soft hyphen): never part of an honest file name. The
/// zero-width joiner and non-joiner stay allowed: Persian and Indic names and emoji sequences need them.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// The content type to store: a plain `type/subtype` as sent, otherwise `application/octet-stream`. Downloads
/// are always attachments with `nosniff`, so this is a label, not an instruction to the browser.
pub fn content_type(sent: Option<&str>) -> String {
    let t = sent.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let ok = t.len() <= 100
        && t.split_once('/').is_some_and(|(a, b)| {
            let token =
                |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&c));
            token(a) && token(b)
        });
    if ok {
        t
    } else {
        "application/octet-stream".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_and_split() -> Result<(), AppError> {
        let p = file_path("/reports/2026/q1.csv")?;
        assert_eq!(
            (p.path.as_str(), p.folder.as_str(), p.name.as_str()),
            ("reports/2026/q1.csv", "reports/2026/", "q1.csv")
        );
        assert_eq!(file_path("a.txt")?.folder, "");
        for bad in ["", "/", "a//b", "a/../b", "./a", "a/", "a\\b", "a\u{0}b", "a/ b", &"x".repeat(256)] {
            assert!(file_path(bad).is_err(), "{bad:?}");
        }
        assert_eq!(folder_path("/")?, "");
        assert_eq!(folder_path("reports/2026/")?, "reports/2026/");
        assert!(folder_path("a/../b").is_err());
        // Names that read as something they are not: a right-to-left override, zero-width and isolate marks.
        for bad in ["invoice\u{202E}fdp.exe", "pay\u{200B}roll.xlsx", "a/\u{2066}b\u{2069}.txt", "\u{FEFF}x.txt"] {
            assert!(file_path(bad).is_err(), "{bad:?}");
            assert!(folder_path(bad).is_err(), "{bad:?}");
        }
        assert!(file_path("résumé – 2026.pdf").is_ok(), "ordinary accents and dashes stay allowed");
        assert!(file_path("می\u{200C}خواهم.txt").is_ok() && file_path("👨\u{200D}👩\u{200D}👧.png").is_ok(), "joiners");
        // NFC: the two spellings of é are one path.
        assert_eq!(file_path("e\u{301}.txt")?.path, file_path("\u{e9}.txt")?.path);
        Ok(())
    }

    #[test]
    fn content_types_are_labels_only() {
        assert_eq!(content_type(Some("text/csv; charset=utf-8")), "text/csv");
        assert_eq!(content_type(Some("text/html\r\nX: y")), "application/octet-stream");
        assert_eq!(content_type(None), "application/octet-stream");
    }
}
