-- Directory: states, agencies, principals, sharing groups.
CREATE TABLE states (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    budapest_convention BOOLEAN NOT NULL,
    second_protocol BOOLEAN NOT NULL,
    osce_participating_state BOOLEAN NOT NULL
);

CREATE TABLE agencies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    native_name TEXT,
    native_language TEXT,
    kind TEXT NOT NULL,
    state_code TEXT REFERENCES states (code),
    status TEXT NOT NULL DEFAULT 'active'
);

CREATE TABLE principals (
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    -- Comma-separated role names; roles come from the directory, not the certificate.
    roles TEXT NOT NULL,
    PRIMARY KEY (agency_id, kind, name)
);

CREATE TABLE sharing_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE sharing_group_members (
    group_id TEXT NOT NULL REFERENCES sharing_groups (id),
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    PRIMARY KEY (group_id, agency_id)
);

-- Indicators.
CREATE TABLE indicators (
    id TEXT PRIMARY KEY,
    source_agency_id TEXT NOT NULL REFERENCES agencies (id),
    publisher TEXT NOT NULL,
    title TEXT,
    description TEXT,
    countermeasures TEXT,
    category TEXT,
    language TEXT NOT NULL,
    first_seen_us BIGINT,
    valid_until_us BIGINT,
    confidence BIGINT NOT NULL,
    evaluation TEXT,
    tlp TEXT NOT NULL,
    scope_kind TEXT NOT NULL,
    scope_value TEXT NOT NULL,
    anonymous BOOLEAN NOT NULL,
    linked_fraud_method_id TEXT,
    created_us BIGINT NOT NULL,
    revoked_us BIGINT,
    revoke_reason TEXT
);

CREATE TABLE indicator_observables (
    indicator_id TEXT NOT NULL REFERENCES indicators (id),
    ordinal BIGINT NOT NULL,
    type TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (indicator_id, ordinal)
);

CREATE INDEX indicator_observables_value ON indicator_observables (type, value);

-- Writes already done, by the client's request_id: a retry returns the first result.
CREATE TABLE idempotency_keys (
    principal TEXT NOT NULL,
    request_id TEXT NOT NULL,
    method TEXT NOT NULL,
    object_id TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    PRIMARY KEY (principal, request_id)
);

-- The outbox: rows written in the same transaction as the change they describe. The
-- sequencer consumes it as a queue and gives each row its stream position.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    event_kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    created_us BIGINT NOT NULL
);

-- Sequenced events: positions assigned after commit, in one place, so that cursor order
-- is commit order.
CREATE TABLE events (
    position BIGINT PRIMARY KEY,
    topic TEXT NOT NULL,
    event_kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    sequenced_us BIGINT NOT NULL
);

CREATE INDEX events_topic_position ON events (topic, position);
