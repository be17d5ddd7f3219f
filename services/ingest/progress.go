package ingest

import "io"

// Phase is the step a feed run is at.
type Phase string

// Phases of a run, in order.
const (
	PhaseFetch   Phase = "fetch"   // reading the body from the source
	PhaseParse   Phase = "parse"   // checking the whole body before publishing
	PhasePublish Phase = "publish" // parsing again and publishing, awaiting PubAcks
	PhaseDone    Phase = "done"    // every message acknowledged
)

// Progress is how far a run has got, reported to RunOptions.Progress.
type Progress struct {
	Phase Phase
	// Bytes of the body read so far in this phase: from the source while
	// fetching, by the parser while parsing and publishing.
	Bytes int64
	// BytesTotal is the body's size; -1 while fetching a body of unknown
	// length.
	BytesTotal int64
	// Rows is the source rows read so far in this phase.
	Rows int
	// Observations is how many were parsed (PhaseParse), or published and
	// acknowledged by JetStream (PhasePublish, PhaseDone).
	Observations int
	// ObservationsTotal is the body's count of observations, known from
	// PhasePublish on; 0 before.
	ObservationsTotal int
	// Messages acknowledged so far.
	Messages int
}

// RunOptions change one run of RunFeedWith.
type RunOptions struct {
	// Progress, when set, is called on the running goroutine as the run
	// advances: on every read of the body, every few thousand observations
	// parsed, every PubAck, and once at the end with PhaseDone. It must
	// return quickly.
	Progress func(Progress)
	// Unconditional fetches the whole body even when the checkpoint's ETag
	// or Last-Modified would allow a 304. The checkpoint still gives the
	// version, so unchanged data publishes the same message ids as before.
	Unconditional bool
	// Lease makes the run wait for the feed's lease and hold it, so that
	// no worker runs the feed at the same time.
	Lease bool
}

// progress keeps a run's Progress and reports it; without a callback it
// does nothing.
type progress struct {
	fn func(Progress)
	p  Progress
}

// parseReportEvery is how many parsed observations pass between reports.
const parseReportEvery = 4096

func (pr *progress) report() {
	if pr.fn != nil {
		pr.fn(pr.p)
	}
}

// start begins phase on a body of total bytes (-1 when unknown).
func (pr *progress) start(phase Phase, total int64) {
	pr.p.Phase, pr.p.Bytes, pr.p.BytesTotal, pr.p.Rows, pr.p.Observations, pr.p.Messages = phase, 0, total, 0, 0, 0
	pr.report()
}

// reader counts the bytes read from r into the current phase.
func (pr *progress) reader(r io.Reader) io.Reader {
	if pr.fn == nil {
		return r
	}
	return &countingReader{r: r, pr: pr}
}

type countingReader struct {
	r  io.Reader
	pr *progress
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 {
		c.pr.p.Bytes += int64(n)
		c.pr.report()
	}
	return n, err
}
