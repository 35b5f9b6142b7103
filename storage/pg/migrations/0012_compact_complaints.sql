-- A compact complaint row (the twin of storage/migrations/0012_compact_complaints.sql): the document's fields
-- packed (bot.domain.complaint pack_fields, ~0.9 KB) instead of jsonb (~1.9 KB a row even after TOAST's pglz,
-- which gains little on Cyrillic text); the columns nothing read are dropped.
-- The server cannot deflate: storage.pg.db runs storage.pg.complaints.pack_stored after this file, in the same
-- transaction; it packs data_json into data, then drops data_json and makes data NOT NULL.
ALTER TABLE complaints DROP COLUMN applicant_kind;
ALTER TABLE complaints DROP COLUMN grounds;
ALTER TABLE complaints DROP COLUMN recipient_kind;
ALTER TABLE complaints DROP COLUMN updated_at;
ALTER TABLE complaints RENAME COLUMN data TO data_json;
ALTER TABLE complaints ADD COLUMN data bytea;
