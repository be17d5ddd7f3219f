-- The named hierarchy each place belongs to under its parent (schemas/places,
-- `hierarchy:`), "" for the default one: Great Britain rolls up from its 14
-- DNO regions by default, or from its three nations with hierarchy=gb-nations,
-- never from both. A table of its own, as place_codes, for a migration safe
-- to run twice on ClickHouse 18.16. Written with places by SyncPlaces.
CREATE TABLE IF NOT EXISTS place_hierarchies
(
    code       String,
    hierarchy  String,
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY code;
