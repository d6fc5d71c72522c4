-- Core domain tables (PostgreSQL). Enumerations are checked here so that an
-- invalid state cannot be stored even by a buggy or foreign writer.
CREATE TABLE operation (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('planning', 'active', 'suspended', 'completed')),
    scenario_json TEXT NOT NULL
);

CREATE TABLE agencies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('intelligence', 'military', 'police', 'diplomatic', 'partner_force', 'receiving_government', 'humanitarian')),
    country TEXT NOT NULL CHECK (length(country) = 3)
);

CREATE TABLE sites (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('detention_facility', 'camp', 'staging_base', 'landing_zone', 'destination')),
    lat DOUBLE PRECISION NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon DOUBLE PRECISION NOT NULL CHECK (lon BETWEEN -180 AND 180),
    population BIGINT NOT NULL CHECK (population >= 0),
    holding_capacity BIGINT NOT NULL CHECK (holding_capacity >= population),
    daily_intake_capacity BIGINT CHECK (daily_intake_capacity IS NULL OR daily_intake_capacity >= 0),
    open_time TEXT,
    close_time TEXT,
    refuel BIGINT NOT NULL CHECK (refuel IN (0, 1)),
    runway BIGINT NOT NULL CHECK (runway IN (0, 1)),
    operator TEXT NOT NULL REFERENCES agencies (id),
    source TEXT NOT NULL DEFAULT '',
    CHECK ((open_time IS NULL) = (close_time IS NULL))
);

CREATE TABLE aircraft_types (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    seats BIGINT NOT NULL CHECK (seats > 0),
    payload_kg BIGINT NOT NULL CHECK (payload_kg >= 0),
    cruise_kmh BIGINT NOT NULL CHECK (cruise_kmh > 0),
    range_km BIGINT NOT NULL CHECK (range_km > 0),
    turnaround_min BIGINT NOT NULL CHECK (turnaround_min >= 0),
    max_flight_hours_per_day DOUBLE PRECISION NOT NULL CHECK (max_flight_hours_per_day > 0 AND max_flight_hours_per_day <= 24),
    crew_duty_hours DOUBLE PRECISION NOT NULL CHECK (crew_duty_hours > 0 AND crew_duty_hours <= 24),
    needs_runway BIGINT NOT NULL CHECK (needs_runway IN (0, 1)),
    night_capable BIGINT NOT NULL CHECK (night_capable IN (0, 1)),
    source TEXT NOT NULL DEFAULT ''
);

CREATE TABLE aircraft (
    tail TEXT PRIMARY KEY,
    type_id TEXT NOT NULL REFERENCES aircraft_types (id),
    base TEXT NOT NULL REFERENCES sites (id),
    availability_json TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE convoys (
    from_site TEXT NOT NULL REFERENCES sites (id),
    to_site TEXT NOT NULL REFERENCES sites (id),
    distance_km DOUBLE PRECISION NOT NULL CHECK (distance_km > 0),
    speed_kmh DOUBLE PRECISION NOT NULL CHECK (speed_kmh > 0),
    vehicles BIGINT NOT NULL CHECK (vehicles > 0),
    seats_per_vehicle BIGINT NOT NULL CHECK (seats_per_vehicle > 0),
    PRIMARY KEY (from_site, to_site),
    CHECK (from_site <> to_site)
);

-- One row per person: one custodian and one location, never two (both NOT NULL,
-- single-valued, and foreign keys into agencies and sites).
CREATE TABLE people (
    id TEXT PRIMARY KEY,
    name_ar TEXT NOT NULL CHECK (length(name_ar) > 0),
    name_latin TEXT NOT NULL CHECK (length(name_latin) > 0),
    aliases_json TEXT NOT NULL DEFAULT '[]',
    date_of_birth TEXT NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('male', 'female')),
    nationality TEXT NOT NULL CHECK (length(nationality) = 3),
    category TEXT NOT NULL CHECK (category IN ('adult_male', 'adult_female', 'minor')),
    risk TEXT NOT NULL CHECK (risk IN ('low', 'medium', 'high', 'critical')),
    separation_groups TEXT NOT NULL DEFAULT '',
    fit_to_fly BIGINT NOT NULL CHECK (fit_to_fly IN (0, 1)),
    escort TEXT NOT NULL CHECK (escort IN ('none', 'medical', 'stretcher')),
    legal_status TEXT NOT NULL CHECK (legal_status IN ('detained', 'awaiting_trial', 'charged', 'convicted', 'for_repatriation')),
    custodian TEXT NOT NULL REFERENCES agencies (id),
    site TEXT NOT NULL REFERENCES sites (id),
    CHECK (category <> 'adult_male' OR sex = 'male'),
    CHECK (category <> 'adult_female' OR sex = 'female')
);
CREATE INDEX people_site ON people (site);
CREATE INDEX people_custodian ON people (custodian);
