-- Multi-agency access: users, device API tokens, sessions (PostgreSQL).
-- No secret is stored: passwords as argon2id PHC strings, token and session
-- secrets (256-bit random) as hex SHA-256 digests. Agencies are not foreign
-- keys, so that reloading a scenario is never blocked by accounts; the access
-- crate checks the agency when a user is added and again at every sign-in.
CREATE TABLE access_users (
    username TEXT PRIMARY KEY CHECK (length(username) BETWEEN 3 AND 64),
    display_name TEXT NOT NULL DEFAULT '',
    agency TEXT NOT NULL CHECK (length(agency) > 0),
    roles TEXT NOT NULL CHECK (length(roles) > 0),
    clearance BIGINT NOT NULL CHECK (clearance BETWEEN 0 AND 4),
    compartments TEXT NOT NULL DEFAULT '',
    password_hash TEXT CHECK (password_hash IS NULL OR password_hash LIKE '$argon2id$%'),
    disabled BIGINT NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    failed_logins BIGINT NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until_ms BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE access_tokens (
    id TEXT PRIMARY KEY CHECK (length(id) = 16),
    username TEXT NOT NULL REFERENCES access_users (username),
    label TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL CHECK (length(secret_sha256) = 64),
    scopes TEXT NOT NULL CHECK (length(scopes) > 0),
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL CHECK (expires_ms > created_ms),
    revoked_ms BIGINT,
    revoked_by TEXT,
    last_used_ms BIGINT,
    CHECK ((revoked_ms IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX access_tokens_user ON access_tokens (username);

CREATE TABLE access_sessions (
    secret_sha256 TEXT PRIMARY KEY CHECK (length(secret_sha256) = 64),
    username TEXT NOT NULL REFERENCES access_users (username),
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL CHECK (expires_ms > created_ms),
    ended_ms BIGINT
);
CREATE INDEX access_sessions_user ON access_sessions (username);
