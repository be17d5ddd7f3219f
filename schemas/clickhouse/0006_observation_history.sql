-- Every version of every observation, as loaded: observations (a
-- ReplacingMergeTree) merges superseded versions away; this view's table
-- keeps them, with when each was loaded, for GET /v1/series/history and for
-- as_of reads (the data as it stood at a time). ClickHouse fills it on every
-- INSERT into observations, in the same statement, so the loader writes one
-- batch; POPULATE copies what observations held when the migration ran. A
-- batch the loader inserts twice (a redelivery) is stored twice here, with
-- the same key, version and batch: reads take DISTINCT rows.
CREATE MATERIALIZED VIEW IF NOT EXISTS observation_history
ENGINE = MergeTree()
ORDER BY (indicator, geo, grain, period_start, dims, source, version)
POPULATE
AS SELECT
    indicator, geo, grain, period_start, period_end, dims, source, value, unit, version,
    initiative, source_url, licence, retrieved_at, batch_id, loaded_at
FROM observations
