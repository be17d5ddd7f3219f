// Package schemas embeds the project's contracts: the JSON Schema of the
// observation, the ClickHouse migrations, the indicator catalogue and the
// feed catalogue. Code in other modules reads them from here so that a
// schema change is seen by every consumer's tests.
package schemas

import "embed"

// ClickHouseMigrations holds the numbered SQL migrations, clickhouse/NNNN_name.sql.
//
//go:embed clickhouse/*.sql
var ClickHouseMigrations embed.FS

// Catalogue holds the indicator catalogue, catalogue/*.yaml.
//
//go:embed catalogue/*.yaml
var Catalogue embed.FS

// Places holds the place catalogue, places/*.yaml.
//
//go:embed places/*.yaml
var Places embed.FS

// Feeds holds the feed catalogue, feeds/*.yaml.
//
//go:embed feeds/*.yaml
var Feeds embed.FS

// Flags holds the publishers' code lists of observation flags
// (flags/<id>.yaml), which feed files name in flags:.
//
//go:embed flags/*.yaml
var Flags embed.FS

// ObservationSchema is the JSON Schema of one observation.
//
//go:embed observation.schema.json
var ObservationSchema []byte

// BatchSchema is the JSON Schema of a batch of observations as carried on NATS.
//
//go:embed observation-batch.schema.json
var BatchSchema []byte

// ErrorCodes lists the stable error codes of the HTTP APIs.
//
//go:embed errors.yaml
var ErrorCodes []byte

// QueryOpenAPI is the OpenAPI 3.0 document of the query API
// (services/query), which that service serves at GET /openapi.yaml.
//
//go:embed openapi/query.yaml
var QueryOpenAPI []byte

// GatewayOpenAPI is the OpenAPI 3.0 document of the partner gateway
// (services/gateway), which that service serves at GET /openapi.yaml.
//
//go:embed openapi/gateway.yaml
var GatewayOpenAPI []byte
