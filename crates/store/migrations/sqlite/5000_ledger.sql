-- Custody ledger (SQLite). The central log stores RFC 6962 leaf hashes and
-- complete-subtree hashes in tlog stored-hash order (ledger_hashes), the
-- leaves themselves, and the openings (access-controlled personal payloads).
CREATE TABLE ledger_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL CHECK (size >= 0)
);
INSERT INTO ledger_state (id, size) VALUES (1, 0);

CREATE TABLE ledger_leaves (
    idx INTEGER PRIMARY KEY CHECK (idx >= 0),
    device TEXT NOT NULL,
    seq BIGINT NOT NULL CHECK (seq >= 1),
    leaf BLOB NOT NULL,
    UNIQUE (device, seq)
);

CREATE TABLE ledger_hashes (
    idx INTEGER PRIMARY KEY CHECK (idx >= 0),
    hash BLOB NOT NULL CHECK (length(hash) = 32)
);

CREATE TABLE ledger_openings (
    idx INTEGER PRIMARY KEY CHECK (idx >= 0),
    person TEXT NOT NULL,
    salt BLOB NOT NULL,
    event BLOB NOT NULL
);
CREATE INDEX ledger_openings_person ON ledger_openings (person);

CREATE TABLE ledger_devices (
    device TEXT PRIMARY KEY,
    pubkey BLOB NOT NULL CHECK (length(pubkey) = 32),
    last_seq BIGINT NOT NULL CHECK (last_seq >= 0),
    last_head BLOB NOT NULL
);

CREATE TABLE ledger_checkpoints (
    size BIGINT PRIMARY KEY,
    note TEXT NOT NULL
);

CREATE TABLE ledger_incidents (
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('device_rollback', 'device_fork')),
    detail TEXT NOT NULL,
    at_size BIGINT NOT NULL
);

-- Field-device journal (a separate SQLite file on the device uses the same schema).
CREATE TABLE ledger_journal_meta (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    device TEXT NOT NULL,
    sign_key BLOB NOT NULL,
    salt_key BLOB NOT NULL,
    synced_through BIGINT NOT NULL,
    checkpoint TEXT
);

CREATE TABLE ledger_journal (
    seq INTEGER PRIMARY KEY CHECK (seq >= 1),
    leaf BLOB NOT NULL,
    salt BLOB NOT NULL,
    event BLOB NOT NULL
);

CREATE TABLE ledger_journal_exchanges (
    id INTEGER PRIMARY KEY,
    payload TEXT NOT NULL
);
