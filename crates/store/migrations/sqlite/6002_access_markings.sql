-- Markings on records and field groups, intelligence notes, legal holds (SQLite).
-- Markings are stored in banner form and parsed (strictly) on every read; a
-- row that no longer parses is reported as corrupt, never guessed at.
-- Rows override, per record and field group, the defaults of
-- sallyport_access::people::default_markings (derived from the agencies).
CREATE TABLE access_markings (
    kind TEXT NOT NULL CHECK (kind IN ('person')),
    record TEXT NOT NULL CHECK (length(record) > 0),
    field TEXT NOT NULL CHECK (field IN ('custody', 'identity', 'medical', 'risk')),
    marking TEXT NOT NULL CHECK (length(marking) > 0),
    -- Originating agency; NULL means the record's custodian.
    originator TEXT,
    set_ms BIGINT NOT NULL,
    set_by TEXT NOT NULL,
    PRIMARY KEY (kind, record, field)
);

CREATE TABLE access_notes (
    id BIGINT PRIMARY KEY CHECK (id >= 1),
    person TEXT NOT NULL CHECK (length(person) > 0),
    marking TEXT NOT NULL CHECK (length(marking) > 0),
    originator TEXT NOT NULL CHECK (length(originator) > 0),
    body TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    created_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX access_notes_person ON access_notes (person, id);

CREATE TABLE access_legal_holds (
    kind TEXT NOT NULL CHECK (kind IN ('person')),
    record TEXT NOT NULL CHECK (length(record) > 0),
    reason TEXT NOT NULL CHECK (length(reason) > 0),
    placed_ms BIGINT NOT NULL,
    placed_by TEXT NOT NULL,
    PRIMARY KEY (kind, record)
);
