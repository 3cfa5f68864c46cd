//! A small RFC 4180 reader: comma-separated cells, double-quoted cells holding commas,
//! quotes (`""`) and line breaks. Each record comes with the line it starts on; a record
//! that does not parse comes back as the reason, and reading goes on with the next line.

/// The records of `text`, skipping blank lines: (line number from 1, cells or the reason).
pub fn records(text: &str) -> Vec<(usize, Result<Vec<String>, String>)> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut cells = Vec::new();
        let mut cell = String::new();
        let mut error = None;
        let mut quoted_cell = false;
        loop {
            match chars.next() {
                None => break,
                Some('\n') => {
                    line += 1;
                    break;
                }
                Some('\r') if chars.peek() == Some(&'\n') => {}
                Some(',') => {
                    cells.push(std::mem::take(&mut cell));
                    quoted_cell = false;
                }
                Some('"') if cell.is_empty() && !quoted_cell => {
                    quoted_cell = true;
                    // A quoted cell: up to the closing quote.
                    loop {
                        match chars.next() {
                            None => {
                                error = Some("a quoted cell is not closed".to_owned());
                                break;
                            }
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                cell.push('"');
                            }
                            Some('"') => break,
                            Some(c) => {
                                if c == '\n' {
                                    line += 1;
                                }
                                cell.push(c);
                            }
                        }
                    }
                    if error.is_none() && !matches!(chars.peek(), None | Some(',' | '\n' | '\r')) {
                        error = Some("text after a quoted cell".to_owned());
                    }
                }
                Some('"') => error = Some("a quote inside an unquoted cell".to_owned()),
                Some(c) => cell.push(c),
            }
        }
        cells.push(cell);
        if cells.len() == 1 && cells[0].trim().is_empty() && !quoted_cell && error.is_none() {
            continue;
        }
        records.push((start, error.map_or(Ok(cells), Err)));
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_quotes_and_lines() {
        let text = "type,value,title\r\ndomain,a.example,\"Лажни, позиви\"\n\nphone,+381,\"two\nlines \"\"quoted\"\"\"\niban,\"unclosed\n";
        let found = records(text);
        assert_eq!(
            found[0],
            (1, Ok(vec!["type".into(), "value".into(), "title".into()]))
        );
        assert_eq!(
            found[1],
            (
                2,
                Ok(vec![
                    "domain".into(),
                    "a.example".into(),
                    "Лажни, позиви".into()
                ])
            )
        );
        assert_eq!(
            found[2],
            (
                4,
                Ok(vec![
                    "phone".into(),
                    "+381".into(),
                    "two\nlines \"quoted\"".into()
                ])
            )
        );
        assert_eq!(found[3].0, 6);
        assert!(found[3].1.is_err());
        assert_eq!(found.len(), 4);
    }

    #[test]
    fn a_stray_quote_is_refused_and_the_next_line_is_read() {
        let found = records("a,b\"c\nd,e\n");
        assert!(found[0].1.is_err());
        assert_eq!(found[1], (2, Ok(vec!["d".into(), "e".into()])));
    }
}
