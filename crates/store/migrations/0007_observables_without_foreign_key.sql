-- An indicator's observables without the foreign key to `indicators`.
--
-- On PostgreSQL the key's check locks each parent row (FOR KEY SHARE) once per observable
-- row: a second write, with its WAL record, to every indicator just inserted. It took
-- about half the time of the two INSERTs of a PublishMany batch. Observables are only ever
-- written in the transaction that inserts their indicator, by the store, and never
-- deleted; on PostgreSQL the batch INSERT takes them in the same statement as the
-- indicators, joined to the rows that statement inserted, and fails unless every
-- observable was joined (see `insert_indicators` in crates/store/src/indicators/write_pg.rs).
--
-- SQLite cannot drop a constraint, so the table is rebuilt, the same way on both.
CREATE TABLE indicator_observables_rebuilt (
    indicator_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    type TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (indicator_id, ordinal)
);

INSERT INTO indicator_observables_rebuilt (indicator_id, ordinal, type, value)
SELECT indicator_id, ordinal, type, value FROM indicator_observables;

DROP TABLE indicator_observables;

ALTER TABLE indicator_observables_rebuilt RENAME TO indicator_observables;

CREATE INDEX indicator_observables_value ON indicator_observables (type, value);
