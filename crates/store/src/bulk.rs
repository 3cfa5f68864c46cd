//! Many rows in one statement: the binding helpers both backends' batch writes share.
//!
//! SQLite reads rows as multi-row `VALUES` in chunks of a few fixed sizes, or as one JSON
//! array; PostgreSQL reads each column as one array parameter (`UNNEST`).

/// Values as one JSON array: SQLite reads it back with `json_each`, so a statement over
/// any number of them has one text, and its prepared form stays cached.
pub(crate) fn json_rows<R: serde::Serialize>(rows: impl Iterator<Item = R>) -> String {
    serde_json::to_string(&rows.collect::<Vec<R>>()).unwrap_or_else(|_| "[]".to_owned())
}

/// Largest chunk of a multi-row insert on SQLite.
pub(crate) const CHUNK_MAX: usize = 256;

/// `rows` in chunks whose sizes are powers of two up to `CHUNK_MAX`: a multi-row `VALUES`
/// statement over them has one of nine texts whatever the row count, so all stay in the
/// statement cache (a text per row count would be prepared anew each time and push others
/// out). SQLite reads bound values; rows passed as JSON it would re-parse per column.
pub(crate) fn power_chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = CHUNK_MAX.min(1 << (usize::BITS - 1 - rest.len().leading_zeros()));
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

/// One column of `rows`, to bind as a PostgreSQL array.
pub(crate) fn column<'a, T, U>(rows: &'a [T], value: impl Fn(&'a T) -> U) -> Vec<U> {
    rows.iter().map(value).collect()
}

/// A PostgreSQL statement with its parameters.
pub(crate) type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_are_powers_of_two_and_cover_every_row_in_order() {
        for count in [0usize, 1, 2, 3, 37, 255, 256, 257, 1000, 2000] {
            let rows: Vec<usize> = (0..count).collect();
            let chunks: Vec<&[usize]> = super::power_chunks(&rows).collect();
            assert!(
                chunks
                    .iter()
                    .all(|chunk| chunk.len().is_power_of_two() && chunk.len() <= super::CHUNK_MAX)
            );
            let joined: Vec<usize> = chunks.concat();
            assert_eq!(joined, rows);
        }
    }
}
