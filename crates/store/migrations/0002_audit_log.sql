-- Audit records travel through the outbox like stream events; `payload` holds the
-- record's canonical encoding.
ALTER TABLE outbox ADD COLUMN payload TEXT;

-- The append-only audit log: leaf i of the Merkle tree is the SHA-256 leaf hash
-- (RFC 9162, 0x00 prefix) of `record`. The other columns are copies of fields of the
-- record, for queries.
CREATE TABLE audit_log (
    leaf_index BIGINT PRIMARY KEY,
    record TEXT NOT NULL,
    leaf_hash TEXT NOT NULL,
    sequenced_us BIGINT NOT NULL,
    time_us BIGINT NOT NULL,
    actor_agency TEXT,
    actor_principal TEXT,
    method TEXT NOT NULL,
    outcome BIGINT NOT NULL
);

CREATE INDEX audit_log_time ON audit_log (time_us);
CREATE INDEX audit_log_actor ON audit_log (actor_agency, leaf_index);

-- The objects each record touched, with their owners: how an agency's auditors find who
-- read what their agency shared.
CREATE TABLE audit_objects (
    leaf_index BIGINT NOT NULL,
    object_id TEXT NOT NULL,
    owner_agency TEXT,
    PRIMARY KEY (leaf_index, object_id)
);

CREATE INDEX audit_objects_object ON audit_objects (object_id);
CREATE INDEX audit_objects_owner ON audit_objects (owner_agency, leaf_index);

-- Signed checkpoints (C2SP signed notes), one per tree size signed.
CREATE TABLE audit_checkpoints (
    tree_size BIGINT PRIMARY KEY,
    root_hash TEXT NOT NULL,
    note TEXT NOT NULL,
    signed_us BIGINT NOT NULL
);

-- The next leaf index, kept apart from the log so that a deleted row leaves a gap that
-- verification names, rather than being silently refilled by the next record.
CREATE TABLE audit_sequence (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    next_leaf BIGINT NOT NULL
);

INSERT INTO audit_sequence (id, next_leaf) VALUES (1, 0);
