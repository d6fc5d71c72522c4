-- Fingerprint engine: the print's candidate minutiae from before false-minutiae removal
-- (sallyport-biometrics SPCM v1), stored beside a template enrolled from an image so that
-- 1:1 and 1:N comparisons use the matcher's raw-support factor as `bio eval` does. NULL
-- for templates enrolled from minutiae records (ISO 19794-2, SPFT) and for templates
-- enrolled before this migration.
ALTER TABLE bio_templates ADD COLUMN candidates BYTEA;
