-- Release of records for legal proceedings (PostgreSQL).
-- A request snapshots the originals it names (value, labels, salt) so that
-- what is approved is exactly what is released, and so that a released
-- record can be verified back to its original later. Two approvals: every
-- originating agency of the included parts, and a release authority; never
-- the requester, never one person twice.
CREATE TABLE access_releases (
    id TEXT PRIMARY KEY CHECK (length(id) > 0),
    requester TEXT NOT NULL,
    requester_agency TEXT NOT NULL,
    recipient TEXT NOT NULL CHECK (length(recipient) > 0),
    case_ref TEXT NOT NULL,
    purpose TEXT NOT NULL,
    target_marking TEXT NOT NULL CHECK (length(target_marking) > 0),
    fields TEXT NOT NULL CHECK (length(fields) > 0),
    originators TEXT NOT NULL CHECK (length(originators) > 0),
    status TEXT NOT NULL CHECK (status IN ('pending', 'issued', 'withdrawn')),
    created_ms BIGINT NOT NULL,
    issued_ms BIGINT,
    document TEXT,
    document_sha256 TEXT,
    CHECK ((status = 'issued') = (document IS NOT NULL)),
    CHECK ((document IS NULL) = (document_sha256 IS NULL)),
    CHECK ((document IS NULL) = (issued_ms IS NULL))
);

CREATE TABLE access_release_records (
    release_id TEXT NOT NULL REFERENCES access_releases (id),
    kind TEXT NOT NULL,
    record TEXT NOT NULL,
    original TEXT NOT NULL,
    labels TEXT NOT NULL,
    salt TEXT NOT NULL CHECK (length(salt) = 64),
    PRIMARY KEY (release_id, kind, record)
);

CREATE TABLE access_release_approvals (
    release_id TEXT NOT NULL REFERENCES access_releases (id),
    capacity TEXT NOT NULL CHECK (capacity IN ('originator', 'release_authority')),
    -- For an originator approval, the originating agency it stands for; for
    -- the release authority, the approver's agency.
    agency TEXT NOT NULL,
    approver TEXT NOT NULL,
    requester TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    policies TEXT NOT NULL,
    CHECK (approver <> requester),
    PRIMARY KEY (release_id, capacity, agency),
    UNIQUE (release_id, approver)
);
