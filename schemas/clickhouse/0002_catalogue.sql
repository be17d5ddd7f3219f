-- Catalogue of indicators and places. Written by `ounce migrate` (and every
-- service at start) from schemas/catalogue; versioned so the newest entry wins.
CREATE TABLE IF NOT EXISTS indicators
(
    code         String,
    name         String,
    unit         String,
    polarity     String,
    domain       String,
    description  String,
    producer     String,
    url          String,
    licence      String,
    cadence      String,
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY code;

CREATE TABLE IF NOT EXISTS places
(
    code     String,
    name     String,
    level    String,
    parent   String,
    version  UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY code;
