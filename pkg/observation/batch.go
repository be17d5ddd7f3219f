package observation

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// DefaultMaxBatchBytes keeps a batch under the NATS server's default 1 MiB
// max payload with room for headers.
const DefaultMaxBatchBytes = 900 * 1024

// Batch is the body of one NATS message: many observations.
type Batch struct {
	ID           string        `json:"batch_id,omitempty"`
	Observations []Observation `json:"observations"`
}

// Message is one encoded batch ready to publish.
type Message struct {
	Data  []byte // JSON Batch
	MsgID string // Nats-Msg-Id, derived from the observations' content
	Count int    // observations in Data
}

// Encode splits obs into batches of at most maxBytes of JSON each (maxBytes
// <= 0 means DefaultMaxBatchBytes) and returns them in order. batchID, when
// not empty, is written into every batch. An observation that alone exceeds
// maxBytes is an error.
func Encode(batchID string, obs []Observation, maxBytes int) ([]Message, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBatchBytes
	}
	head := []byte(`{"observations":[`)
	if batchID != "" {
		idJSON, err := json.Marshal(batchID)
		if err != nil {
			return nil, fmt.Errorf("encode batch id: %w", err)
		}
		head = append(append([]byte(`{"batch_id":`), idJSON...), []byte(`,"observations":[`)...)
	}
	const tail = "]}"
	var (
		msgs    []Message
		buf     bytes.Buffer
		n       int
		dig     = newDigest()
		scratch []byte
	)
	flush := func() {
		if n == 0 {
			return
		}
		buf.WriteString(tail)
		data := make([]byte, buf.Len())
		copy(data, buf.Bytes())
		msgs = append(msgs, Message{Data: data, MsgID: dig.sum(), Count: n})
		buf.Reset()
		n = 0
		dig = newDigest()
	}
	for i := range obs {
		var (
			enc      []byte
			from, to int
		)
		if canMarshalFast(&obs[i]) {
			scratch, from, to = appendJSONMarked(scratch[:0], &obs[i])
			enc = scratch
		} else if _, err := json.Marshal(&obs[i]); err != nil {
			return nil, fmt.Errorf("encode observation %d: %w", i, err)
		} else {
			return nil, fmt.Errorf("encode observation %d: retrieved_at year %d is outside 0..9999", i, obs[i].Provenance.RetrievedAt.Year())
		}
		if len(head)+len(enc)+len(tail) > maxBytes {
			return nil, fmt.Errorf("encode observation %d: %d bytes alone exceed the batch limit of %d", i, len(enc), maxBytes)
		}
		if n > 0 && buf.Len()+1+len(enc)+len(tail) > maxBytes {
			flush()
		}
		if n == 0 {
			buf.Write(head)
		} else {
			buf.WriteByte(',')
		}
		buf.Write(enc)
		// The digest is the observation's JSON without its retrieval time.
		dig.write(enc[:from])
		dig.write(enc[to:])
		n++
	}
	flush()
	return msgs, nil
}

// Decode parses one batch. It fails only when the body is not a batch at all;
// each observation still needs Validate.
func Decode(data []byte) (Batch, error) {
	d := decoder{data: data}
	b, err := d.batch()
	if err != nil {
		return Batch{}, fmt.Errorf("decode observation batch: %w", err)
	}
	return b, nil
}

// digest hashes the content that makes a batch what it is: every
// observation's JSON except its retrieval time, so a re-pull of unchanged
// data yields the same Nats-Msg-Id.
//
// Two 64-bit xxhash digests with different seeds make a 128-bit id: the
// chance that two different batches inside the duplicate window share one is
// negligible, and it hashes at memory speed (SHA-256 cost more than the
// whole encoding).
type digest struct{ a, b *xxhash.Digest }

func newDigest() *digest {
	return &digest{a: xxhash.NewWithSeed(0x6f756e6365), b: xxhash.NewWithSeed(0x9e3779b97f4a7c15)}
}

func (d *digest) write(p []byte) {
	_, _ = d.a.Write(p)
	_, _ = d.b.Write(p)
}

func (d *digest) sum() string {
	var out [16]byte
	binary.BigEndian.PutUint64(out[:8], d.a.Sum64())
	binary.BigEndian.PutUint64(out[8:], d.b.Sum64())
	return hex.EncodeToString(out[:])
}
