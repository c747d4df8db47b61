//! Rules for short free text people type (names, reasons): one line, of bounded length. The HTML escaper
//! lives in `model` (the browser needs it too) and is re-exported here.

/// `text` trimmed, when it holds 1 to `max` characters and no control character (no line breaks, no escape
/// sequences for a terminal reading the access history); `None` otherwise.
pub fn one_line(text: &str, max: usize) -> Option<&str> {
    let text = text.trim();
    let ok = !text.is_empty() && text.chars().count() <= max && !text.chars().any(char::is_control);
    ok.then_some(text)
}

/// The first `max` characters of `text` (all of it when shorter), without copying: a string of at most `max`
/// bytes is returned as it is.
pub fn first_chars(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    text.char_indices().nth(max).map_or(text, |(at, _)| &text[..at])
}

pub use crate::model::escape_html;

#[cfg(test)]
mod tests {
    use super::{first_chars, one_line};

    #[test]
    fn first_chars_cuts_on_a_character_boundary() {
        assert_eq!(first_chars("abc", 5), "abc");
        assert_eq!(first_chars("abcdef", 3), "abc");
        assert_eq!(first_chars("ééé", 2), "éé");
        assert_eq!(first_chars("ééé", 3), "ééé");
        assert_eq!(first_chars("aé", 1), "a");
        assert_eq!(first_chars("", 0), "");
    }

    #[test]
    fn one_line_of_bounded_length() {
        assert_eq!(one_line("  Acme  ", 10), Some("Acme"));
        assert_eq!(one_line("   ", 10), None);
        assert_eq!(one_line("two\nlines", 10), None);
        assert_eq!(one_line("ééé", 3), Some("ééé"));
        assert_eq!(one_line("éééé", 3), None);
    }
}
