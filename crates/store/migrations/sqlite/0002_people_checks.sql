-- `people`'s enumeration CHECKs, written as OR-chains instead of
-- `col IN (a, b, c, …)`. Same rules, same NULL handling, same collation: only
-- the cost differs. SQLite builds a temporary b-tree for every IN-list of three
-- or more values each time a CHECK is evaluated (once per row per list); with
-- four such lists that was ~12 µs of a ~14 µs row insert during bulk import
-- (docs/benchmarks/store.md). PostgreSQL evaluates IN-lists cheaply: it has no
-- such migration.
--
-- How: SQLite cannot alter a CHECK, and its table rebuild (new table, copy,
-- drop, rename) cannot run here: foreign keys cannot be switched off inside the
-- migration's transaction, so dropping the old table would cascade to
-- bio_templates (ON DELETE CASCADE), and renaming it would repoint their
-- REFERENCES. A change that leaves the stored rows valid and their on-disk
-- format unchanged (same columns, keys and indexes; CHECKs that accept exactly
-- the same rows) is SQLite's documented case for editing the table's SQL text
-- in sqlite_schema instead ("Making Other Kinds Of Table Schema Changes",
-- https://sqlite.org/lang_altertable.html). `writable_schema = RESET` reloads
-- this connection's schema; the throwaway table bumps the schema cookie so
-- every other open connection reloads it too.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = 'CREATE TABLE people (
    id TEXT PRIMARY KEY,
    name_ar TEXT NOT NULL CHECK (length(name_ar) > 0),
    name_latin TEXT NOT NULL CHECK (length(name_latin) > 0),
    aliases_json TEXT NOT NULL DEFAULT ''[]'',
    date_of_birth TEXT NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN (''male'', ''female'')),
    nationality TEXT NOT NULL CHECK (length(nationality) = 3),
    category TEXT NOT NULL CHECK (category = ''adult_male'' OR category = ''adult_female'' OR category = ''minor''),
    risk TEXT NOT NULL CHECK (risk = ''low'' OR risk = ''medium'' OR risk = ''high'' OR risk = ''critical''),
    separation_groups TEXT NOT NULL DEFAULT '''',
    fit_to_fly BIGINT NOT NULL CHECK (fit_to_fly IN (0, 1)),
    escort TEXT NOT NULL CHECK (escort = ''none'' OR escort = ''medical'' OR escort = ''stretcher''),
    legal_status TEXT NOT NULL CHECK (legal_status = ''detained'' OR legal_status = ''awaiting_trial'' OR legal_status = ''charged''
        OR legal_status = ''convicted'' OR legal_status = ''for_repatriation''),
    custodian TEXT NOT NULL REFERENCES agencies (id),
    site TEXT NOT NULL REFERENCES sites (id),
    CHECK (category <> ''adult_male'' OR sex = ''male''),
    CHECK (category <> ''adult_female'' OR sex = ''female'')
)'
WHERE type = 'table' AND name = 'people';
PRAGMA writable_schema = RESET;
CREATE TABLE schema_bump_0002 (x);
DROP TABLE schema_bump_0002;
