package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ounce-data/ounce/pkg/batchstatus"
	"github.com/ounce-data/ounce/pkg/httpapi"
)

// batchRecord is what the gateway stores under <batch id> in the batch
// bucket once JetStream acknowledged the push.
type batchRecord struct {
	Partner     string    `json:"partner"`
	Subject     string    `json:"subject"`
	PublishedAt time.Time `json:"published_at"`
	Rows        int       `json:"rows"`
	MessageIDs  []string  `json:"message_ids"`
	// Duplicates are the message ids JetStream already held when they
	// were published (a repeat of the same rows and versions within the
	// duplicate window): the loader reports them under the batch that
	// first published them.
	Duplicates []string `json:"duplicates,omitempty"`
}

// Batch states.
const (
	BatchPublished = "published" // in JetStream, not yet in ClickHouse
	BatchLoading   = "loading"   // some of its messages are in ClickHouse
	BatchLoaded    = "loaded"    // every message is in ClickHouse
	// BatchDuplicate: every message was already held by JetStream (a
	// repeat of an earlier push) and that earlier copy is in ClickHouse.
	BatchDuplicate = "duplicate"
)

// BatchStatus is the body of GET /v1/batches/{id}.
type BatchStatus struct {
	BatchID        string    `json:"batch_id"`
	State          string    `json:"state"`
	PublishedAt    time.Time `json:"published_at"`
	RowsPublished  int       `json:"rows_published"`
	Messages       int       `json:"messages"`
	MessagesLoaded int       `json:"messages_loaded"`
	// MessagesDuplicate of the messages were a repeat JetStream already
	// held; they count as loaded once the earlier copy is, and their rows
	// as ignored.
	MessagesDuplicate int `json:"messages_duplicate,omitempty"`
	RowsLoaded        int `json:"rows_loaded"`
	// RowsRejectedByLoader are rows the loader dead-lettered (OBS_DLQ).
	RowsRejectedByLoader int        `json:"rows_rejected_by_loader"`
	LoadedAt             *time.Time `json:"loaded_at,omitempty"`
	// Of the rows loaded, how they changed what queries return, against
	// what ClickHouse held before this batch: imported (new keys), updated
	// (new values), ignored (the stored value again, or older than it).
	// Absent until a loaded message reports them; counted over the loaded
	// messages that did.
	RowsImported *int `json:"rows_imported,omitempty"`
	RowsUpdated  *int `json:"rows_updated,omitempty"`
	RowsIgnored  *int `json:"rows_ignored,omitempty"`
}

// addChanges counts a loaded message's classified rows.
func (st *BatchStatus) addChanges(c *batchstatus.RowChanges) {
	if c == nil {
		return
	}
	if st.RowsImported == nil {
		st.RowsImported, st.RowsUpdated, st.RowsIgnored = new(int), new(int), new(int)
	}
	*st.RowsImported += c.Imported
	*st.RowsUpdated += c.Updated
	*st.RowsIgnored += c.Ignored
}

var batchIDRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{12}$`)

func (s *Service) putBatch(ctx context.Context, id string, rec batchRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode batch record: %w", err)
	}
	if _, err := s.batches.Put(ctx, id, data); err != nil {
		return fmt.Errorf("put batch record %s: %w", id, err)
	}
	return nil
}

// batch is GET /v1/batches/{id}: where a partner's batch stands.
func (s *Service) batch(w http.ResponseWriter, r *http.Request) {
	p, herr := s.authenticate(w, r)
	if herr != nil {
		httpapi.WriteError(w, herr)
		return
	}
	if len(r.URL.Query()) > 0 {
		for name := range r.URL.Query() {
			httpapi.WriteError(w, httpapi.BadRequest(name, "%q is not a parameter of this route; it takes none", name))
			return
		}
	}
	id := r.PathValue("id")
	notFound := httpapi.Errorf(httpapi.CodeNotFound, "id", "no batch %q of this partner; batch ids come from the batch_id of a push's summary and are kept %s", id, "7 days")
	if !batchIDRE.MatchString(id) {
		httpapi.WriteError(w, notFound)
		return
	}
	st, owner, err := s.batchStatus(r.Context(), id)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		httpapi.WriteError(w, notFound)
		return
	case err != nil:
		s.log.Warn().Err(err).Str("batch_id", id).Msg("read batch status")
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeUnavailable, "", "the batch status cannot be read from NATS now (%v); retry", err))
		return
	case owner != p.ID: // another partner's batch does not exist for this key
		httpapi.WriteError(w, notFound)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if err := httpapi.WriteJSON(w, http.StatusOK, st); err != nil {
		s.log.Error().Err(err).Msg("write batch status")
	}
}

// batchStatus reads the gateway's record and the loader's reports of id.
func (s *Service) batchStatus(ctx context.Context, id string) (BatchStatus, string, error) {
	e, err := s.batches.Get(ctx, id)
	if err != nil {
		return BatchStatus{}, "", err
	}
	var rec batchRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return BatchStatus{}, "", fmt.Errorf("decode batch record %s: %w", id, err)
	}
	st := BatchStatus{BatchID: id, State: BatchPublished, PublishedAt: rec.PublishedAt, RowsPublished: rec.Rows, Messages: len(rec.MessageIDs)}
	want := map[string]bool{}
	for _, m := range rec.MessageIDs {
		want[m] = true
	}
	for _, m := range rec.Duplicates {
		delete(want, m)
		rep, ok, err := s.reportOf(ctx, m)
		if err != nil {
			return BatchStatus{}, "", err
		}
		if !ok {
			continue // the earlier copy is not in ClickHouse yet
		}
		st.MessagesLoaded++
		st.MessagesDuplicate++
		st.RowsLoaded += rep.Rows
		st.RowsRejectedByLoader += rep.Rejected
		st.addChanges(&batchstatus.RowChanges{Ignored: rep.Rows})
		if st.LoadedAt == nil || rep.LoadedAt.After(*st.LoadedAt) {
			t := rep.LoadedAt
			st.LoadedAt = &t
		}
	}
	lister, err := s.batches.ListKeysFiltered(ctx, id+".*")
	if err != nil {
		return BatchStatus{}, "", fmt.Errorf("list load reports of %s: %w", id, err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		msgID := strings.TrimPrefix(k, id+".")
		if !want[msgID] {
			continue
		}
		re, err := s.batches.Get(ctx, k)
		if err != nil {
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				continue
			}
			return BatchStatus{}, "", fmt.Errorf("read load report %s: %w", k, err)
		}
		var rep batchstatus.LoadReport // written by the loader after a confirmed insert
		if err := json.Unmarshal(re.Value(), &rep); err != nil {
			continue
		}
		st.MessagesLoaded++
		st.RowsLoaded += rep.Rows
		st.RowsRejectedByLoader += rep.Rejected
		st.addChanges(rep.Changes)
		if st.LoadedAt == nil || rep.LoadedAt.After(*st.LoadedAt) {
			t := rep.LoadedAt
			st.LoadedAt = &t
		}
	}
	switch {
	case st.MessagesLoaded == 0:
		st.LoadedAt = nil
	case st.MessagesLoaded < st.Messages:
		st.State = BatchLoading
		st.LoadedAt = nil
	case st.MessagesDuplicate == st.Messages:
		st.State = BatchDuplicate
	default:
		st.State = BatchLoaded
	}
	return st, rec.Partner, nil
}

// reportOf finds the loader's report of message msgID under whichever
// batch published it first (keys are <batch id>.<message id>).
func (s *Service) reportOf(ctx context.Context, msgID string) (batchstatus.LoadReport, bool, error) {
	lister, err := s.batches.ListKeysFiltered(ctx, batchstatus.ReportsOfMessage(msgID))
	if err != nil {
		return batchstatus.LoadReport{}, false, fmt.Errorf("list load reports of message %s: %w", msgID, err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		e, err := s.batches.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return batchstatus.LoadReport{}, false, fmt.Errorf("read load report %s: %w", k, err)
		}
		var rep batchstatus.LoadReport
		if json.Unmarshal(e.Value(), &rep) == nil {
			return rep, true, nil
		}
	}
	return batchstatus.LoadReport{}, false, nil
}
