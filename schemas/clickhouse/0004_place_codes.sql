-- The other codes of each place in the places table (schemas/places): ISO 3166-1
-- alpha-2 and UN M49 for countries, and the publishers' codes ("scheme:code",
-- e.g. who-m49:953) that resolve to it. A table of its own rather than new
-- columns of places: ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, and a
-- migration must be safe to run twice. Written with places by SyncPlaces.
CREATE TABLE IF NOT EXISTS place_codes
(
    code     String,
    alpha2   String,
    m49      String,
    aliases  Array(String),
    version  UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY code;
