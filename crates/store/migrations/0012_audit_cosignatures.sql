-- Witness cosignatures of the audit log's checkpoints (C2SP tlog-cosignature): one note
-- signature line per witness and checkpoint size, served with the checkpoint. A witness
-- cosigns a size at most once here; a second line for the same size is ignored.
CREATE TABLE audit_cosignatures (
    tree_size BIGINT NOT NULL,
    witness TEXT NOT NULL,
    signature_line TEXT NOT NULL,
    received_us BIGINT NOT NULL,
    PRIMARY KEY (tree_size, witness)
);
CREATE INDEX audit_cosignatures_by_witness ON audit_cosignatures (witness, tree_size);
