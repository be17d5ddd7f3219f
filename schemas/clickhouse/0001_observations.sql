-- Observations: one row per (natural key, version). ReplacingMergeTree keeps the
-- highest version of a key after merges; every read deduplicates with FINAL or
-- argMax so a query never sees two versions of one fact.
-- Periods are half-open [period_start, period_end) in Unix seconds (UTC), Int64
-- because the open data reaches back before 1970 (OWID starts in 1750).
-- Runs on ClickHouse 18.16 and current releases: no LowCardinality, no Map,
-- no DateTime64, no PARTITION BY that could split one INSERT into >100 parts.
CREATE TABLE IF NOT EXISTS observations
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
    loaded_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (indicator, geo, grain, period_start, dims, source)
SETTINGS index_granularity = 8192;
