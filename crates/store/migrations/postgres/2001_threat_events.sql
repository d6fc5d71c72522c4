-- Threat watch: conflict events (UCDP GED, ACLED) and the ingest log.
-- (source, event_id) is the idempotency key: re-ingesting a file adds nothing.
CREATE TABLE threat_events (
    source TEXT NOT NULL CHECK (source IN ('ucdp_ged', 'acled')),
    event_id TEXT NOT NULL CHECK (length(event_id) > 0),
    kind TEXT NOT NULL,
    date_start TEXT NOT NULL,
    date_end TEXT NOT NULL CHECK (date_end >= date_start),
    known_day BIGINT NOT NULL,
    date_prec BIGINT NOT NULL CHECK (date_prec BETWEEN 1 AND 5),
    geo_prec BIGINT NOT NULL CHECK (geo_prec BETWEEN 1 AND 7),
    lat DOUBLE PRECISION NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon DOUBLE PRECISION NOT NULL CHECK (lon BETWEEN -180 AND 180),
    fatalities BIGINT NOT NULL CHECK (fatalities >= 0),
    location TEXT NOT NULL,
    admin1 TEXT NOT NULL,
    file TEXT NOT NULL,
    UNIQUE (source, event_id)
);
CREATE INDEX threat_events_known ON threat_events (known_day);

CREATE TABLE threat_ingests (
    at_ms BIGINT NOT NULL,
    file TEXT NOT NULL,
    source TEXT NOT NULL,
    rows_read BIGINT NOT NULL,
    added BIGINT NOT NULL,
    already_present BIGINT NOT NULL,
    rejected BIGINT NOT NULL
);
