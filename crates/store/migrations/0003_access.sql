-- Access control: certificates registered and revoked by the operator.
--
-- A certificate issued by the hub CA that names a principal of the directory is accepted
-- without being registered here; registering records its fingerprint, principal and expiry
-- for the operator. A revoked fingerprint is refused at the TLS handshake and on every call.
-- Revocation needs no registration: the principal columns are empty for a certificate the
-- hub never saw registered.
CREATE TABLE certificates (
    sha256 TEXT PRIMARY KEY,
    agency_id TEXT REFERENCES agencies (id),
    kind TEXT,
    name TEXT,
    not_after_us BIGINT,
    registered_us BIGINT,
    revoked_us BIGINT,
    revoke_reason TEXT
);

CREATE INDEX certificates_revoked ON certificates (revoked_us);
