-- The publisher's flag (Eurostat's p provisional, e estimated…) and what the
-- data-quality rules found (quality: codes joined by ',', in the order of
-- observation.QualityCodes) become attributes of every observation: not part
-- of the key, so a provisional value and its final release stay one fact
-- with two versions. Rows stored before this migration have neither.
-- ADD COLUMN is not idempotent on 18.16 (no IF NOT EXISTS): the migration
-- runner treats "column with this name already exists" as done.
ALTER TABLE observations ADD COLUMN flag String DEFAULT '' AFTER batch_id;
ALTER TABLE observations ADD COLUMN quality String DEFAULT '' AFTER flag;

-- Every version, with its flag and quality: a plain table, filled by a
-- materialized view written TO it, so that its columns can grow with
-- observations' (a view's own inner table cannot take new columns from its
-- SELECT). The view is created first and the rows of observation_history
-- copied after, so no insert between the two is lost; one loaded in between
-- is then held twice, which history reads already tolerate (they take
-- DISTINCT rows, as for a batch the loader inserted twice).
CREATE TABLE IF NOT EXISTS observation_versions
(
    indicator     String,
    geo           String,
    grain         String,
    period_start  Int64,
    period_end    Int64,
    dims          String,
    source        String,
    value         Float64,
    unit          String,
    version       UInt64,
    initiative    String,
    source_url    String,
    licence       String,
    retrieved_at  DateTime,
    batch_id      String,
    loaded_at     DateTime,
    flag          String,
    quality       String
)
ENGINE = MergeTree()
ORDER BY (indicator, geo, grain, period_start, dims, source, version);

CREATE MATERIALIZED VIEW IF NOT EXISTS observation_versions_feed TO observation_versions
AS SELECT
    indicator, geo, grain, period_start, period_end, dims, source, value, unit, version,
    initiative, source_url, licence, retrieved_at, batch_id, loaded_at, flag, quality
FROM observations;

INSERT INTO observation_versions
SELECT
    indicator, geo, grain, period_start, period_end, dims, source, value, unit, version,
    initiative, source_url, licence, retrieved_at, batch_id, loaded_at, '' AS flag, '' AS quality
FROM observation_history;

DROP TABLE IF EXISTS observation_history;
