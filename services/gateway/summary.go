package gateway

// Import statuses.
const (
	StatusSuccess = "SUCCESS" // every row accepted
	StatusWarning = "WARNING" // some rows accepted, some rejected
	StatusError   = "ERROR"   // no row accepted
)

// Limits of a summary, so a push of a million bad rows answers in a page.
const (
	MaxConflicts      = 50  // conflict entries; the rest are counted in conflicts_omitted
	MaxRowsInConflict = 100 // row numbers listed in one entry; row_count has them all
)

// ImportSummary is the answer to a push.
type ImportSummary struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	// BatchID names the published batch (GET /v1/batches/{id}); absent
	// when nothing was published.
	BatchID string `json:"batch_id,omitempty"`
	DryRun  bool   `json:"dry_run"`
	Atomic  bool   `json:"atomic"`
	Counts  Counts `json:"counts"`
	// Messages is how many NATS messages carried the accepted rows.
	Messages         int        `json:"messages"`
	Conflicts        []Conflict `json:"conflicts"`
	ConflictsOmitted int        `json:"conflicts_omitted,omitempty"`
	// Quality counts the accepted rows the data-quality rules flagged, by
	// code (a part above its whole in the same push, an outlier of a series
	// the push carries whole); they are accepted and stored with their
	// codes. Absent when none.
	Quality map[string]int `json:"quality,omitempty"`
}

// Counts of an import summary.
type Counts struct {
	Received int `json:"received"`
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	// Ignored counts accepted rows JetStream already held unchanged (a
	// repeat of rows with the same versions inside the duplicate window);
	// absent for a dry run and for an atomic push published as a JetStream
	// atomic batch (its messages carry no Nats-Msg-Id). Whether an accepted row adds or replaces a
	// stored value is not known at push time: the loader classifies the
	// loaded rows, and GET /v1/batches/{id} reports rows_imported,
	// rows_updated and rows_ignored.
	Ignored *int `json:"ignored,omitempty"`
}

// Conflict is one problem shared by one or more rows.
type Conflict struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// Rows are the first row numbers (1-based, in the order sent; a CSV
	// header is not a row) with this problem; RowCount is all of them.
	Rows     []int `json:"rows"`
	RowCount int   `json:"row_count"`
}

// conflicts groups problems by code, field and message.
type conflicts struct {
	list    []*Conflict
	index   map[problem]*Conflict
	omitted map[problem]bool
	rows    int // distinct rejected rows
}

func (c *conflicts) add(p problem, rowN int) {
	if c.index == nil {
		c.index = map[problem]*Conflict{}
		c.omitted = map[problem]bool{}
	}
	e := c.index[p]
	if e == nil {
		if len(c.list) >= MaxConflicts {
			c.omitted[p] = true
			return
		}
		e = &Conflict{Code: p.code, Field: p.field, Message: p.message, Rows: []int{}}
		c.index[p] = e
		c.list = append(c.list, e)
	}
	e.RowCount++
	if len(e.Rows) < MaxRowsInConflict {
		e.Rows = append(e.Rows, rowN)
	}
}

func (c *conflicts) entries() ([]Conflict, int) {
	out := make([]Conflict, len(c.list))
	for i, e := range c.list {
		out[i] = *e
	}
	return out, len(c.omitted)
}
