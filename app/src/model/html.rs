//! The one HTML escaper, for markup Rampart writes outside Leptos' views: email alternatives, plain error pages,
//! and the few long lists a page writes as one string (the members list). Shared by the server and the browser,
//! so a list written into a string hydrates to the same text.

/// Appends `s` to `out`, escaped for an element's content or a quoted attribute.
pub fn push_escaped(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// `s` escaped for an element's content or a quoted attribute.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::{escape_html, push_escaped};

    #[test]
    fn escapes_markup_and_both_quotes_and_keeps_the_rest() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape_html("o'brien+é@example.com"), "o&#39;brien+é@example.com");
        assert_eq!(escape_html(""), "");
        let mut out = "kept ".to_owned();
        push_escaped(&mut out, "&&");
        assert_eq!(out, "kept &amp;&amp;");
    }
}
