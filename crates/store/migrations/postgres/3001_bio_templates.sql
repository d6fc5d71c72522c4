-- Fingerprint engine: enrolled finger templates (sallyport-biometrics native format SPFT v1),
-- one per person and finger position (0 unknown, 1-10 ISO/ANSI numbering). Replacing the
-- people of an operation (load_scenario --replace) removes their templates with them.
CREATE TABLE bio_templates (
    person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    finger_position BIGINT NOT NULL CHECK (finger_position BETWEEN 0 AND 10),
    template BYTEA NOT NULL,
    format TEXT NOT NULL CHECK (format = 'SPFT1'),
    minutiae BIGINT NOT NULL CHECK (minutiae >= 0),
    quality BIGINT NOT NULL CHECK (quality BETWEEN 0 AND 100),
    source_file TEXT NOT NULL,
    enrolled_at_ms BIGINT NOT NULL,
    PRIMARY KEY (person_id, finger_position)
);
