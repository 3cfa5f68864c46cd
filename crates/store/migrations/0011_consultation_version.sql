-- A consultation's version: every stored step increases it, and a step writes only over
-- the version it was decided on (optimistic concurrency), so that two acknowledgements
-- at once are not lost and a Schedule racing a Close cannot reopen it.
ALTER TABLE cbm_consultations ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
