-- The audit log's Merkle tree as C2SP tlog-tiles: one row per tile, level L holding node
-- hashes of height 8L (level 0: the leaf hashes), 256 to a full tile, concatenated
-- 32-byte hashes. The last tile of a level grows (its row is replaced by a wider one)
-- until it is full; a full tile never changes. Derived from audit_log's leaf hashes, so
-- a log without tiles (one written before this migration) is tiled from its leaves.
CREATE TABLE audit_tiles (
    level SMALLINT NOT NULL,
    idx BIGINT NOT NULL,
    width SMALLINT NOT NULL,
    hashes BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);
