-- Mutual legal assistance requests (services/mla), their deadlines and hub-signed receipts.
--
-- A request row carries the columns that decisions and lists need (the parties, the
-- workflow and preservation states, urgency, case reference, the version for optimistic
-- concurrency) and, in `document`, the service's encoding of the rest (content, history,
-- conditions, refusal, execution report), hex-encoded like the other binary columns.
-- `requested_agency_id` is empty while a draft names no agency.
CREATE TABLE mla_requests (
    id TEXT PRIMARY KEY,
    requesting_agency_id TEXT NOT NULL REFERENCES agencies (id),
    requested_agency_id TEXT NOT NULL,
    state TEXT NOT NULL,
    preservation_state TEXT,
    urgency TEXT NOT NULL,
    case_reference TEXT NOT NULL,
    version BIGINT NOT NULL,
    document TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    updated_us BIGINT NOT NULL,
    submitted_us BIGINT
);

CREATE INDEX mla_requests_requesting ON mla_requests (requesting_agency_id, updated_us);
CREATE INDEX mla_requests_requested ON mla_requests (requested_agency_id, updated_us);

-- One row per deadline kind of a request: set at `set_us`, due at `due_us`; `passed` once
-- the hub announced it overdue, `warned` once it announced it approaching.
CREATE TABLE mla_deadlines (
    request_id TEXT NOT NULL REFERENCES mla_requests (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    set_us BIGINT NOT NULL,
    due_us BIGINT NOT NULL,
    met_us BIGINT,
    cancelled BOOLEAN NOT NULL,
    warned BOOLEAN NOT NULL,
    passed BOOLEAN NOT NULL,
    PRIMARY KEY (request_id, kind)
);

CREATE INDEX mla_deadlines_due ON mla_deadlines (due_us);

-- Hub-signed receipts: `statement` holds exactly the bytes signed (hex).
CREATE TABLE mla_receipts (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES mla_requests (id),
    kind TEXT NOT NULL,
    statement TEXT NOT NULL,
    signature TEXT NOT NULL,
    key_id TEXT NOT NULL,
    created_us BIGINT NOT NULL
);

CREATE INDEX mla_receipts_request ON mla_receipts (request_id, created_us);

-- Messages between the two parties on a request: `document` holds the service's encoding
-- of the message (hex); `read_us` is when the other party first listed it.
CREATE TABLE mla_messages (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES mla_requests (id),
    sender_agency_id TEXT NOT NULL,
    document TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    read_us BIGINT
);

CREATE INDEX mla_messages_request ON mla_messages (request_id, created_us);

-- Evidence files on a request. The bytes live outside the database, content-addressed by
-- `sha256` in the evidence directory; `document` holds the service's encoding of the
-- metadata (hex); `first_retrieve_us` is the other party's first complete download.
CREATE TABLE mla_evidence (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES mla_requests (id),
    uploader_agency_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    document TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    first_retrieve_us BIGINT
);

CREATE INDEX mla_evidence_request ON mla_evidence (request_id, created_us);
