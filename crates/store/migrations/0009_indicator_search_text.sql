-- The text that search matches: an indicator's title, description and countermeasures,
-- joined by spaces (a search word holds none, so none matches across two of them) and
-- lowercased by the hub (Unicode case folding, Rust's `to_lowercase`) when it is stored.
-- SQLite's LOWER() folds ASCII letters only, so searching "шахраї" never found
-- "Шахраї"; the search lowercases its words the same way and matches this column.
-- Indicators stored before this migration are folded here by the database's LOWER():
-- on SQLite, ASCII letters only.
ALTER TABLE indicators ADD COLUMN search_text TEXT;

UPDATE indicators SET search_text = LOWER(
    COALESCE(title, '') || ' ' || COALESCE(description, '') || ' ' || COALESCE(countermeasures, '')
) WHERE title IS NOT NULL OR description IS NOT NULL OR countermeasures IS NOT NULL;
