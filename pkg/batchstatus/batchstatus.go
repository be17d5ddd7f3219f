// Package batchstatus is the contract between the loader and the gateway
// about a partner's batch: once a message of a batch is in ClickHouse the
// loader writes a LoadReport under ReportKey(batch id, message id) in the
// JetStream key-value bucket extnats.BucketBatches, and the gateway's
// GET /v1/batches/{id} sums the reports of the batch's messages.
package batchstatus

import "time"

// HeaderMsgID carries a message's content id when it cannot travel as
// Nats-Msg-Id (the messages of a JetStream atomic batch); the loader keys
// its report by either.
const HeaderMsgID = "Ounce-Msg-Id"

// LoadReport says that one message's rows are committed in ClickHouse.
type LoadReport struct {
	Rows     int       `json:"rows"`
	Rejected int       `json:"rejected"`
	LoadedAt time.Time `json:"loaded_at"`
	// Changes classifies a partner's rows against what ClickHouse held
	// before them; absent for feeds, and when the loader could not read the
	// stored values.
	Changes *RowChanges `json:"changes,omitempty"`
}

// RowChanges says how rows change what queries return, against what
// ClickHouse held before them.
type RowChanges struct {
	Imported int `json:"imported"` // a key ClickHouse did not hold
	Updated  int `json:"updated"`  // a new value for a stored key
	Ignored  int `json:"ignored"`  // the stored value again, or older than the stored version
}

// ReportKey is the bucket key of message msgID's report in batch batchID.
// A redelivered message rewrites its own report rather than adding one.
func ReportKey(batchID, msgID string) string { return batchID + "." + msgID }

// ReportsOfMessage is the key filter that finds msgID's report under
// whichever batch published it first.
func ReportsOfMessage(msgID string) string { return "*." + msgID }
