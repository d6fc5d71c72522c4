-- Custody ledger (PostgreSQL). The central log stores RFC 6962 leaf hashes and
-- complete-subtree hashes in tlog stored-hash order (ledger_hashes), the
-- leaves themselves, and the openings (access-controlled personal payloads).
CREATE TABLE ledger_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL CHECK (size >= 0)
);
INSERT INTO ledger_state (id, size) VALUES (1, 0);

CREATE TABLE ledger_leaves (
    idx BIGINT PRIMARY KEY CHECK (idx >= 0),
    device TEXT NOT NULL,
    seq BIGINT NOT NULL CHECK (seq >= 1),
    leaf BYTEA NOT NULL,
    UNIQUE (device, seq)
);

CREATE TABLE ledger_hashes (
    idx BIGINT PRIMARY KEY CHECK (idx >= 0),
    hash BYTEA NOT NULL CHECK (octet_length(hash) = 32)
);

CREATE TABLE ledger_openings (
    idx BIGINT PRIMARY KEY CHECK (idx >= 0),
    person TEXT NOT NULL,
    salt BYTEA NOT NULL,
    event BYTEA NOT NULL
);
CREATE INDEX ledger_openings_person ON ledger_openings (person);

CREATE TABLE ledger_devices (
    device TEXT PRIMARY KEY,
    pubkey BYTEA NOT NULL CHECK (octet_length(pubkey) = 32),
    last_seq BIGINT NOT NULL CHECK (last_seq >= 0),
    last_head BYTEA NOT NULL
);

CREATE TABLE ledger_checkpoints (
    size BIGINT PRIMARY KEY,
    note TEXT NOT NULL
);

CREATE TABLE ledger_incidents (
    id BIGSERIAL PRIMARY KEY,
    device TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('device_rollback', 'device_fork')),
    detail TEXT NOT NULL,
    at_size BIGINT NOT NULL
);

-- Field-device journal (a separate SQLite file on the device uses the same schema).
CREATE TABLE ledger_journal_meta (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    device TEXT NOT NULL,
    sign_key BYTEA NOT NULL,
    salt_key BYTEA NOT NULL,
    synced_through BIGINT NOT NULL,
    checkpoint TEXT
);

CREATE TABLE ledger_journal (
    seq BIGINT PRIMARY KEY CHECK (seq >= 1),
    leaf BYTEA NOT NULL,
    salt BYTEA NOT NULL,
    event BYTEA NOT NULL
);

CREATE TABLE ledger_journal_exchanges (
    id BIGSERIAL PRIMARY KEY,
    payload TEXT NOT NULL
);
