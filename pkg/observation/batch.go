package observation

import (
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
	ID string `json:"batch_id,omitempty"`
	// Common holds what the batch's observations share, written once.
	// Decode applies it (see Common) and returns observations complete.
	Common       *Common       `json:"common,omitempty"`
	Observations []Observation `json:"observations"`
}

// Common carries the fields most observations of a batch share. An
// observation without a unit, source or version takes the common one; one
// without any provenance takes the common provenance whole. None of these can
// be meaningfully empty in a valid observation, so the rule is exact.
type Common struct {
	Unit       string      `json:"unit,omitempty"`
	Source     string      `json:"source,omitempty"`
	Version    uint64      `json:"version,omitempty"`
	Provenance *Provenance `json:"provenance,omitempty"`
}

// inherit fills each observation's missing fields from b.Common and drops it.
func (b *Batch) inherit() {
	c := b.Common
	b.Common = nil
	if c == nil {
		return
	}
	for i := range b.Observations {
		o := &b.Observations[i]
		if o.Unit == "" {
			o.Unit = c.Unit
		}
		if o.Source == "" {
			o.Source = c.Source
		}
		if o.Version == 0 {
			o.Version = c.Version
		}
		if c.Provenance != nil && o.Provenance == (Provenance{}) {
			o.Provenance = *c.Provenance
		}
	}
}

// Message is one encoded batch ready to publish.
type Message struct {
	Data  []byte // JSON Batch
	MsgID string // Nats-Msg-Id, derived from the observations' content
	Count int    // observations in Data
}

// Encode splits obs into batches of at most maxBytes of JSON each (maxBytes
// <= 0 means DefaultMaxBatchBytes) and returns them in order. batchID, when
// not empty, is written into every batch. Each batch writes the unit, source,
// version and provenance of its first observation once, in "common", and
// leaves them out of the observations that share them. An observation that
// alone exceeds maxBytes is an error.
func Encode(batchID string, obs []Observation, maxBytes int) ([]Message, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBatchBytes
	}
	prefix := []byte(`{`)
	if batchID != "" {
		prefix = append(appendString(append(prefix, `"batch_id":`...), batchID), ',')
	}
	const tail = "]}"
	var (
		msgs    []Message
		body    []byte // observations of the message being built, comma-separated
		head    []byte // prefix, common and `"observations":[`
		common  Common
		prov    Provenance
		n       int
		dig     = newDigest()
		scratch []byte
	)
	start := func(o *Observation) {
		prov = o.Provenance
		common = Common{Unit: o.Unit, Source: o.Source, Version: o.Version, Provenance: &prov}
		var from, to int
		head, from, to = appendCommon(append(head[:0], prefix...), &common)
		head = append(head, `,"observations":[`...)
		dig = newDigest()
		// The digest is the content without retrieval times.
		dig.write(head[len(prefix):from])
		dig.write(head[to:])
	}
	flush := func() {
		if n == 0 {
			return
		}
		data := make([]byte, 0, len(head)+len(body)+len(tail))
		data = append(append(append(data, head...), body...), tail...)
		msgs = append(msgs, Message{Data: data, MsgID: dig.sum(), Count: n})
		body, n = body[:0], 0
	}
	for i := range obs {
		o := &obs[i]
		if !canMarshalFast(o) {
			if _, err := json.Marshal(o); err != nil {
				return nil, fmt.Errorf("encode observation %d: %w", i, err)
			}
			return nil, fmt.Errorf("encode observation %d: retrieved_at year %d is outside 0..9999", i, o.Provenance.RetrievedAt.Year())
		}
		if n == 0 {
			start(o)
		}
		var from, to int
		scratch, from, to = appendJSONMarked(scratch[:0], o, &common)
		if n > 0 && len(head)+len(body)+1+len(scratch)+len(tail) > maxBytes {
			flush()
			start(o)
			scratch, from, to = appendJSONMarked(scratch[:0], o, &common)
		}
		if len(head)+len(scratch)+len(tail) > maxBytes {
			return nil, fmt.Errorf("encode observation %d: %d bytes alone exceed the batch limit of %d", i, len(scratch), maxBytes)
		}
		if n > 0 {
			body = append(body, ',')
		}
		body = append(body, scratch...)
		dig.write(scratch[:from])
		dig.write(scratch[to:])
		n++
	}
	flush()
	return msgs, nil
}

// Decode parses one batch. It fails only when the body is not a batch at all;
// each observation still needs Validate.
func Decode(data []byte) (Batch, error) {
	var d decoder
	d.s.Reset(data)
	b, err := d.batch()
	if err != nil {
		return Batch{}, fmt.Errorf("decode observation batch: %w", err)
	}
	b.inherit()
	return b, nil
}

// A Decoder decodes batch after batch, reusing its memory: a Batch it
// returns, and the observations in it, are valid only until its next Decode.
// Strings, times and periods that repeat are shared across batches, so a
// long-running consumer decodes with little garbage. The zero Decoder is
// ready; it is not safe for concurrent use.
type Decoder struct {
	d decoder
}

// Decode parses one batch like the package's Decode.
func (dec *Decoder) Decode(data []byte) (Batch, error) {
	d := &dec.d
	if len(d.interned) >= maxCached || len(d.times) >= maxCached || len(d.periods) >= maxCached {
		clear(d.interned)
		clear(d.times)
		clear(d.periods)
	}
	d.s.Reset(data)
	b, err := d.batch()
	d.s.Reset(nil)
	if err != nil {
		return Batch{}, fmt.Errorf("decode observation batch: %w", err)
	}
	// The next batch reuses these observations; the values they point to
	// stay in their chunk, and a fresh chunk is taken when it runs out.
	d.obs = b.Observations[:0]
	b.inherit()
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
