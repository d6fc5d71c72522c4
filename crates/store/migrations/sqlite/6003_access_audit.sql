-- Access audit log (SQLite): every read and write of people's data, every
-- sign-in, token, policy and release step, as a SHA-256 hash chain.
-- hash = SHA-256(domain || prev_hash || length-prefixed fields || subjects);
-- see crates/access/src/audit.rs. access_audit_state serialises appends (an
-- append first updates its row, which takes the write lock on both backends)
-- and holds the head, so truncating the log is detected too.
CREATE TABLE access_audit_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL CHECK (size >= 0),
    head TEXT NOT NULL CHECK (length(head) = 64)
);
INSERT INTO access_audit_state (id, size, head)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE access_audit (
    seq BIGINT PRIMARY KEY CHECK (seq >= 0),
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    agency TEXT NOT NULL,
    via TEXT NOT NULL,
    action TEXT NOT NULL,
    kind TEXT NOT NULL,
    record TEXT NOT NULL,
    allowed BIGINT NOT NULL CHECK (allowed IN (0, 1)),
    policies TEXT NOT NULL,
    policy_sha256 TEXT NOT NULL,
    detail TEXT NOT NULL,
    subjects BIGINT NOT NULL CHECK (subjects >= 0),
    prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),
    hash TEXT NOT NULL UNIQUE CHECK (length(hash) = 64)
);
CREATE INDEX access_audit_actor ON access_audit (actor, seq);
CREATE INDEX access_audit_record ON access_audit (kind, record, seq);

-- The people an entry concerns (one list read concerns many).
CREATE TABLE access_audit_subjects (
    seq BIGINT NOT NULL REFERENCES access_audit (seq),
    person TEXT NOT NULL,
    PRIMARY KEY (seq, person)
);
CREATE INDEX access_audit_subjects_person ON access_audit_subjects (person, seq);

-- Append-only, as a second line behind the hash chain.
CREATE TRIGGER access_audit_no_update BEFORE UPDATE ON access_audit
BEGIN SELECT RAISE(ABORT, 'the access audit log is append-only'); END;
CREATE TRIGGER access_audit_no_delete BEFORE DELETE ON access_audit
BEGIN SELECT RAISE(ABORT, 'the access audit log is append-only'); END;
CREATE TRIGGER access_audit_subjects_no_update BEFORE UPDATE ON access_audit_subjects
BEGIN SELECT RAISE(ABORT, 'the access audit log is append-only'); END;
CREATE TRIGGER access_audit_subjects_no_delete BEFORE DELETE ON access_audit_subjects
BEGIN SELECT RAISE(ABORT, 'the access audit log is append-only'); END;
