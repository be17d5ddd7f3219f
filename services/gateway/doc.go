// Package gateway is the partner push API of Ounce: partners send the
// outcomes they measured (JSON, NDJSON or CSV, optionally gzipped) with a
// bearer key; the gateway checks every row against the key's grants and the
// indicator catalogue, publishes the accepted rows to the observation stream
// as partner:<id>, waits until JetStream acknowledged all of them, and
// answers an import summary with the rejected rows grouped by conflict.
// GET /v1/batches/{id} says whether the loader has put a batch into
// ClickHouse yet.
package gateway
