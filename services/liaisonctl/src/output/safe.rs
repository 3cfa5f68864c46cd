//! Text from other agencies, made safe for a terminal: control characters (C0, DEL, C1,
//! so every escape sequence), and the invisible characters that reorder or hide text (bidi
//! embeddings, overrides and isolates, zero-width characters, the BOM) are shown as
//! `\u{…}` escapes instead of reaching the terminal. Line breaks and tabs inside a cell
//! are escaped too: a cell is one line. Widths are measured in terminal columns
//! (`unicode-width`), so Cyrillic, Vietnamese and Latvian text — precomposed or with
//! combining marks — and wide CJK text line up.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Whether `c` must not reach a terminal as it is.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// `text` with every unsafe character shown as a `\u{…}` escape.
pub fn escape(text: &str) -> String {
    if !text.chars().any(is_unsafe) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Serialized JSON with the unsafe characters serde leaves as they are (bidi controls,
/// zero-width characters, C1) written as `\uXXXX` escapes: the same JSON value, and
/// nothing a terminal acts on. Line breaks between values are kept.
pub fn escape_json(serialized: &str) -> String {
    if !serialized.chars().any(|c| is_unsafe(c) && c != '\n') {
        return serialized.to_owned();
    }
    let mut out = String::with_capacity(serialized.len() + 8);
    for c in serialized.chars() {
        if is_unsafe(c) && c != '\n' {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The width of `text` in terminal columns.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// `text` cut into lines of at most `columns` columns, at spaces where it can be, inside a
/// word where it must.
pub fn wrap(text: &str, columns: usize) -> Vec<String> {
    let columns = columns.max(8);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let needed = width(word) + usize::from(!line.is_empty());
        if width(&line) + needed > columns && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        for c in word.chars() {
            if width(&line) + c.width().unwrap_or(0) > columns {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_reach_no_terminal() {
        let hostile = "ok\u{1b}]8;;http://evil\u{7}link\u{1b}[2J\u{9b}31m\u{202e}gpj.exe\r\nnext";
        let shown = escape(hostile);
        assert!(!shown.chars().any(is_unsafe), "{shown:?}");
        assert_eq!(
            shown,
            "ok\\u{1b}]8;;http://evil\\u{7}link\\u{1b}[2J\\u{9b}31m\\u{202e}gpj.exe\\u{d}\\u{a}next"
        );
        let json = escape_json(&serde_json::to_string("a\u{202e}b\u{2066}\u{9b}").unwrap());
        assert!(!json.chars().any(is_unsafe), "{json:?}");
        assert_eq!(
            serde_json::from_str::<String>(&json).unwrap(),
            "a\u{202e}b\u{2066}\u{9b}"
        );
    }

    #[test]
    fn widths_are_columns_not_bytes_or_chars() {
        // Vietnamese with combining marks: 10 columns, more characters.
        let combining = "Bo\u{302}\u{323} Co\u{302}ng an";
        assert_eq!(width(combining), 10);
        assert_eq!(width("Bộ Công an"), 10);
        assert_eq!(width("Valsts policija — Rīga, Ķekava"), 30);
        assert_eq!(width("Кіберполіція"), 12);
        assert_eq!(width("警察"), 4);
    }

    #[test]
    fn long_text_wraps_at_spaces_and_inside_long_words() {
        assert_eq!(
            wrap("Фішингова кампанія від імені банку", 20),
            ["Фішингова кампанія", "від імені банку"]
        );
        assert_eq!(wrap("aaaaaaaaaaaa", 8), ["aaaaaaaa", "aaaa"]);
    }
}
