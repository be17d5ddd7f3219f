// Package deadletter is the contract of the dead-letter stream
// (extnats.StreamDeadLetter, OBS_DLQ): the headers the loader sets on a dead
// letter, the kinds of dead letter, and the body of a rejected-observations
// letter. The loader writes them; operators' tools and tests read them.
package deadletter

import "encoding/json"

// Headers on dead-lettered messages.
const (
	HeaderError           = "Ounce-Error"
	HeaderKind            = "Ounce-Dead-Letter-Kind"
	HeaderOriginalSubject = "Ounce-Original-Subject"
	HeaderOriginalSeq     = "Ounce-Original-Sequence"
	HeaderDeliveries      = "Ounce-Deliveries"
)

// Kinds of dead letter, the values of HeaderKind.
const (
	// KindRejected: some observations of a message failed validation; the
	// body (RejectedBody) lists them and the rest of the message was loaded.
	KindRejected = "rejected-observations"
	// KindUndecodable: the body is not an observation batch at all.
	KindUndecodable = "undecodable-message"
	// KindInsertFailed: ClickHouse refused the message's rows MaxDeliver times.
	KindInsertFailed = "insert-failed"
)

// Reject is one observation the loader will not load, as written in the body
// of a rejected-observations dead letter.
type Reject struct {
	Index       int             `json:"index"`
	Reason      string          `json:"reason"` // schema, invalid, unknown_indicator, source_mismatch
	Error       string          `json:"error"`
	Observation json.RawMessage `json:"observation"`
}

// RejectedBody is the body of a rejected-observations dead letter.
type RejectedBody struct {
	Subject  string   `json:"subject"`
	Sequence uint64   `json:"sequence"`
	BatchID  string   `json:"batch_id,omitempty"`
	Rejected []Reject `json:"rejected"`
}
