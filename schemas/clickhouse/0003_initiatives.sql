-- Initiatives registered by analysts (POST /v1/initiatives): the document of
-- docs/savings.md as JSON, one row per write. ReplacingMergeTree keeps the newest
-- version of an id; a DELETE writes a row with deleted = 1, so the history of
-- an initiative stays auditable until merges fold it. Writes are rare (an
-- analyst registering or editing), so one INSERT per write is acceptable.
CREATE TABLE IF NOT EXISTS initiatives
(
    id          String,
    doc         String,
    deleted     UInt8,
    version     UInt64,
    updated_at  DateTime
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;
