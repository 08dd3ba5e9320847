//! HTML escaping for the pages the server writes (the dashboard, the public status page, the
//! SLA report).

/// Escapes text for HTML element content and for attribute values in either kind of quotes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn markup_and_both_quotes_are_escaped() {
        assert_eq!(
            esc(r#"<a href='x' title="y">&</a>"#),
            "&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(esc("Dvořák – č. 4"), "Dvořák – č. 4");
    }
}
