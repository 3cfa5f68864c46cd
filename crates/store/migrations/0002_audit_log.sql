-- Audit records travel through the outbox like stream events; `payload` holds the
-- record's canonical encoding.
ALTER TABLE outbox ADD COLUMN payload TEXT;

-- The append-only audit log: leaf i of the Merkle tree is the SHA-256 leaf hash
-- (RFC 9162, 0x00 prefix) of `record`.
CREATE TABLE audit_log (
    leaf_index BIGINT PRIMARY KEY,
    record TEXT NOT NULL,
    leaf_hash TEXT NOT NULL,
    sequenced_us BIGINT NOT NULL
);

-- Signed checkpoints (C2SP signed notes), one per tree size signed.
CREATE TABLE audit_checkpoints (
    tree_size BIGINT PRIMARY KEY,
    root_hash TEXT NOT NULL,
    note TEXT NOT NULL,
    signed_us BIGINT NOT NULL
);
