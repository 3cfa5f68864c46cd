-- Indicators beyond publication: sightings, correlations, listing.

-- A member saw an observable: how often and when. The observable is stored normalised.
CREATE TABLE sightings (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    value TEXT NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    reporter TEXT NOT NULL,
    count BIGINT NOT NULL,
    first_seen_us BIGINT NOT NULL,
    last_seen_us BIGINT NOT NULL,
    reported_us BIGINT NOT NULL
);

CREATE INDEX sightings_observable ON sightings (type, value);

-- Two agencies published the same observable. One row per agency to be told: `target`
-- is the agency whose indicator `own_indicator_id` holds it, `other_indicator_id` the
-- other agency's. Delivered on the indicator stream as a correlation event, to the
-- target agency only, and only while it may see the other indicator.
CREATE TABLE correlations (
    id TEXT PRIMARY KEY,
    target_agency_id TEXT NOT NULL REFERENCES agencies (id),
    own_indicator_id TEXT NOT NULL REFERENCES indicators (id),
    other_indicator_id TEXT NOT NULL REFERENCES indicators (id),
    type TEXT NOT NULL,
    value TEXT NOT NULL,
    created_us BIGINT NOT NULL
);

CREATE INDEX indicators_created ON indicators (created_us, id);
