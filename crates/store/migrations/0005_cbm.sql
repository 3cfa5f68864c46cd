-- Confidence-building measures: notifications with their acknowledgement tables, points
-- of contact and communication checks. Times are by the hub's deadline clock.
CREATE TABLE cbm_notifications (
    id TEXT PRIMARY KEY,
    sender_agency_id TEXT NOT NULL REFERENCES agencies (id),
    sender TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    title_language TEXT NOT NULL,
    body TEXT NOT NULL,
    body_language TEXT NOT NULL,
    -- Newline-separated lists.
    sectors TEXT NOT NULL,
    other_sectors TEXT NOT NULL,
    reference_list TEXT NOT NULL,
    tlp TEXT NOT NULL,
    scope_kind TEXT NOT NULL,
    scope_value TEXT NOT NULL,
    ack_within_us BIGINT,
    event_us BIGINT,
    related_notification_id TEXT,
    point_of_contact_id TEXT,
    created_us BIGINT NOT NULL
);

CREATE INDEX cbm_notifications_sender ON cbm_notifications (sender_agency_id, id);

-- One row per recipient agency, made when the notification is sent: the recipients are
-- the scope's members at that time, never the sender.
CREATE TABLE cbm_acknowledgements (
    notification_id TEXT NOT NULL REFERENCES cbm_notifications (id),
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    status TEXT NOT NULL,
    due_us BIGINT,
    deliver_us BIGINT,
    receive_us BIGINT,
    respond_us BIGINT,
    acknowledged_by TEXT,
    comment TEXT,
    comment_language TEXT,
    escalate_us BIGINT,
    update_us BIGINT NOT NULL,
    PRIMARY KEY (notification_id, agency_id)
);

CREATE INDEX cbm_acknowledgements_agency ON cbm_acknowledgements (agency_id, notification_id);
CREATE INDEX cbm_acknowledgements_due ON cbm_acknowledgements (status, escalate_us, due_us);

-- Points of contact (OSCE CBM 8, Budapest Convention Art. 35), kept by each agency.
CREATE TABLE points_of_contact (
    id TEXT PRIMARY KEY,
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    level TEXT NOT NULL,
    function TEXT NOT NULL,
    -- Newline-separated `kind<TAB>value` pairs and language tags.
    channels TEXT NOT NULL,
    languages TEXT NOT NULL,
    hours TEXT NOT NULL,
    around_the_clock BOOLEAN NOT NULL,
    confirm_us BIGINT NOT NULL,
    deleted_us BIGINT
);

CREATE INDEX points_of_contact_agency ON points_of_contact (agency_id, id);

-- Communication checks and their per-agency results.
CREATE TABLE cbm_checks (
    id TEXT PRIMARY KEY,
    started_by TEXT,
    scope_kind TEXT NOT NULL,
    scope_value TEXT NOT NULL,
    contact_level TEXT NOT NULL,
    start_us BIGINT NOT NULL,
    window_us BIGINT NOT NULL,
    message TEXT NOT NULL,
    message_language TEXT NOT NULL,
    challenge TEXT NOT NULL,
    -- When the hub announced that the window closed.
    close_us BIGINT
);

CREATE TABLE cbm_check_results (
    check_id TEXT NOT NULL REFERENCES cbm_checks (id),
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    respond_us BIGINT,
    responder TEXT,
    point_of_contact_id TEXT,
    comment TEXT,
    comment_language TEXT,
    PRIMARY KEY (check_id, agency_id)
);

CREATE INDEX cbm_check_results_agency ON cbm_check_results (agency_id, check_id);

-- Consultations (OSCE CBM 3) and their participants.
CREATE TABLE cbm_consultations (
    id TEXT PRIMARY KEY,
    requester TEXT NOT NULL,
    requester_agency_id TEXT NOT NULL REFERENCES agencies (id),
    subject TEXT NOT NULL,
    subject_language TEXT NOT NULL,
    description TEXT,
    description_language TEXT,
    state TEXT NOT NULL,
    tlp TEXT NOT NULL,
    related_ids TEXT NOT NULL,
    request_notification_id TEXT NOT NULL,
    proposed_us TEXT NOT NULL,
    schedule_us BIGINT,
    duration_us BIGINT,
    venue TEXT,
    venue_language TEXT,
    agenda TEXT,
    agenda_language TEXT,
    hold_us BIGINT,
    summary TEXT,
    summary_language TEXT,
    outcome TEXT,
    close_us BIGINT,
    created_us BIGINT NOT NULL,
    update_us BIGINT NOT NULL
);

CREATE TABLE cbm_consultation_participants (
    consultation_id TEXT NOT NULL REFERENCES cbm_consultations (id),
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    requester BOOLEAN NOT NULL,
    acknowledge_us BIGINT,
    acknowledged_by TEXT,
    attended BOOLEAN NOT NULL,
    PRIMARY KEY (consultation_id, agency_id)
);

CREATE INDEX cbm_consultation_participants_agency ON cbm_consultation_participants (agency_id, consultation_id);

-- Replies on notifications and in consultation threads; the parent's id prefix (`cbm_`,
-- `cns_`) says which.
CREATE TABLE cbm_replies (
    id TEXT PRIMARY KEY,
    parent_id TEXT NOT NULL,
    sender_agency_id TEXT NOT NULL REFERENCES agencies (id),
    sender TEXT NOT NULL,
    body TEXT NOT NULL,
    body_language TEXT NOT NULL,
    audience TEXT NOT NULL,
    in_reply_to_id TEXT,
    tlp TEXT NOT NULL,
    created_us BIGINT NOT NULL
);

CREATE INDEX cbm_replies_parent ON cbm_replies (parent_id, id);
