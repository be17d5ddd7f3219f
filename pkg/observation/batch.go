package observation

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
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
		msgs []Message
		buf  bytes.Buffer
		n    int
		dig  = newDigest()
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
		enc, err := json.Marshal(&obs[i])
		if err != nil {
			return nil, fmt.Errorf("encode observation %d: %w", i, err)
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
		dig.add(&obs[i])
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

// digest hashes the content that makes a batch what it is: every key, value,
// unit, version, initiative and provenance except the retrieval time, so a
// re-pull of unchanged data yields the same Nats-Msg-Id.
type digest struct{ h hash.Hash }

func newDigest() *digest { return &digest{h: sha256.New()} }

func (d *digest) add(o *Observation) {
	var num [8]byte
	d.str(o.Key())
	if o.Value != nil {
		binary.LittleEndian.PutUint64(num[:], math.Float64bits(*o.Value))
	}
	_, _ = d.h.Write(num[:])
	d.str(o.Unit)
	binary.LittleEndian.PutUint64(num[:], o.Version)
	_, _ = d.h.Write(num[:])
	d.str(o.Initiative)
	d.str(o.Provenance.URL)
	d.str(o.Provenance.Licence)
}

func (d *digest) str(s string) {
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(s)))
	_, _ = d.h.Write(n[:])
	_, _ = d.h.Write([]byte(s))
}

func (d *digest) sum() string { return hex.EncodeToString(d.h.Sum(nil)[:16]) }
