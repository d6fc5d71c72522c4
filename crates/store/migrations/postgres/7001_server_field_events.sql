-- Field custody events received by the server's sync endpoint (PostgreSQL).
-- (device, seq) is the idempotency key: a device re-sends until acknowledged,
-- and a re-sent event is recognised and ignored. No foreign keys, so that
-- reloading a scenario is never blocked by history; the server validates
-- person, site and custodian before storing.
CREATE TABLE server_field_events (
    device TEXT NOT NULL CHECK (length(device) > 0),
    seq BIGINT NOT NULL CHECK (seq >= 1),
    person TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('checkpoint', 'departed', 'arrived', 'handover')),
    site TEXT NOT NULL,
    custodian TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    PRIMARY KEY (device, seq)
);
CREATE INDEX server_field_events_person ON server_field_events (person, at_ms);
CREATE INDEX server_field_events_at ON server_field_events (at_ms);
