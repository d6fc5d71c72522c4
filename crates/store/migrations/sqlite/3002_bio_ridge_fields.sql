-- Fingerprint engine: the print's coarse ridge-orientation field (sallyport-biometrics
-- SPRF v1), stored beside a template enrolled from an image so that 1:1 and 1:N
-- comparisons use the orientation score as `bio eval` does. NULL for templates enrolled
-- from minutiae records (ISO 19794-2, SPFT), which carry no field.
ALTER TABLE bio_templates ADD COLUMN ridge_field BLOB;
