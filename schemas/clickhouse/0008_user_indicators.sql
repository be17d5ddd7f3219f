-- Indicators users register (POST /v1/indicators on the query service) are
-- kept in NATS, the bucket ounce_user_indicators, which every service reads;
-- the query service mirrors each into this table beside the catalogue's, so
-- that SQL over `indicators` sees every indicator. origin says where an entry
-- is defined: 'catalogue' (schemas/catalogue, written by SyncCatalogue) or
-- 'user'. Deleting a user indicator writes a row with deleted = 1 at a higher
-- version, as initiatives do. SyncCatalogue writes catalogue codes only and
-- never deletes, and no catalogue code starts with "user." (the catalogue
-- refuses to load one), so neither origin ever replaces the other's rows.
-- ADD COLUMN is not idempotent on 18.16 (no IF NOT EXISTS): the migration
-- runner treats "column with this name already exists" as done.
ALTER TABLE indicators ADD COLUMN origin String DEFAULT 'catalogue' AFTER cadence;
ALTER TABLE indicators ADD COLUMN deleted UInt8 DEFAULT 0 AFTER origin;
