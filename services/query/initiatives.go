package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/services/query/savings"
)

// MaxInitiativeBytes bounds the body of an initiative write.
const MaxInitiativeBytes = 1 << 20

// InitiativesResponse is the body of GET /v1/initiatives.
type InitiativesResponse struct {
	Initiatives []savings.Initiative `json:"initiatives"`
	Count       int                  `json:"count"`
}

// initiativeTag is the ETag of one stored version of an initiative, which
// If-Match on PUT and DELETE compare against.
func initiativeTag(version uint64) string { return `"v` + strconv.FormatUint(version, 10) + `"` }

// nextVersion is a version above prev: nanoseconds since the epoch, so
// writes through any replica order by time.
func nextVersion(prev uint64) uint64 {
	v := uint64(time.Now().UnixNano())
	if v <= prev {
		v = prev + 1
	}
	return v
}

// listInitiatives answers GET /v1/initiatives: every live initiative, by id.
func (s *Service) listInitiatives(w http.ResponseWriter, r *http.Request) {
	if !s.noParams(w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	stored, order, err := s.store.initiatives(ctx, "")
	if err != nil {
		httpapi.WriteError(w, s.storeError(r, err))
		return
	}
	resp := InitiativesResponse{Initiatives: []savings.Initiative{}}
	for _, id := range order {
		in, ok := s.decodeStored(w, id, stored[id].Doc)
		if !ok {
			return
		}
		resp.Initiatives = append(resp.Initiatives, in)
	}
	resp.Count = len(resp.Initiatives)
	s.writeCached(w, r, resp)
}

// currentInitiative reads the live initiative of the path's id, answering
// the error itself when there is none.
func (s *Service) currentInitiative(w http.ResponseWriter, r *http.Request) (string, storedInitiative, bool) {
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	stored, _, err := s.store.initiatives(ctx, id)
	if err != nil {
		httpapi.WriteError(w, s.storeError(r, err))
		return id, storedInitiative{}, false
	}
	cur, ok := stored[id]
	if !ok || cur.Deleted {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeNotFound, "id", "no initiative %q; GET /v1/initiatives lists them", id))
		return id, cur, false
	}
	return id, cur, true
}

// getInitiative answers GET /v1/initiatives/{id} with the document as
// stored, its ETag its version.
func (s *Service) getInitiative(w http.ResponseWriter, r *http.Request) {
	if !s.noParams(w, r) {
		return
	}
	_, cur, ok := s.currentInitiative(w, r)
	if !ok {
		return
	}
	tag := initiativeTag(cur.Version)
	h := w.Header()
	h.Set("ETag", tag)
	h.Set("Cache-Control", "no-cache")
	h.Set("Last-Modified", cur.UpdatedAt.UTC().Format(http.TimeFormat))
	if inm := r.Header.Get("If-None-Match"); inm != "" && httpapi.ETagMatch(inm, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", httpapi.ContentTypeJSON)
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, cur.Doc+"\n")
}

// readJSONBody reads a request's JSON body of at most limit bytes,
// answering a wrong Content-Type (400), a body over the limit (413, with
// sizeHint saying what is usual) or one that cannot be read; what names the
// document in the messages ("the initiative").
func readJSONBody(w http.ResponseWriter, r *http.Request, what string, limit int64, sizeHint string) ([]byte, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSONMediaType(ct) {
		httpapi.WriteError(w, httpapi.BadRequest("Content-Type", "send %s as application/json, not %q", what, ct))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpapi.WriteError(w, httpapi.Errorf(httpapi.CodePayloadTooLarge, "body", "%s is larger than %d bytes; %s", what, limit, sizeHint))
		} else {
			httpapi.WriteError(w, httpapi.BadRequest("body", "the body could not be read: %v", err))
		}
		return nil, false
	}
	return body, true
}

// readInitiativeBody decodes a write's body and checks it against the
// catalogues and the data (checkInitiative), answering every problem at
// once; pathID, when set, is the id the path names.
func (s *Service) readInitiativeBody(w http.ResponseWriter, r *http.Request, pathID string) (savings.Initiative, string, bool) {
	body, ok := readJSONBody(w, r, "the initiative", MaxInitiativeBytes, "an initiative document is a few kilobytes")
	if !ok {
		return savings.Initiative{}, "", false
	}
	in, err := savings.Decode(strings.NewReader(string(body)))
	var pre []savings.Problem
	if err == nil && pathID != "" {
		switch in.ID {
		case "":
			in.ID = pathID
		case pathID:
		default:
			pre = append(pre, savings.Problem{Field: "id",
				Message: fmt.Sprintf("id %q differs from the path's %q; they must be equal (or leave id out)", in.ID, pathID)})
		}
	}
	if err == nil {
		err = s.checkInitiative(r.Context(), in, pre...)
	}
	var ie *savings.InputError
	if err != nil && !errors.As(err, &ie) {
		httpapi.WriteError(w, s.storeError(r, err)) // the store, asked about the data the document reads
		return savings.Initiative{}, "", false
	}
	if err != nil {
		httpapi.WriteError(w, savingsError(err))
		return savings.Initiative{}, "", false
	}
	doc, err := json.Marshal(in)
	if err != nil {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeInternal, "", "the initiative could not be stored; the log has details"))
		s.log.Error().Err(err).Msg("encode initiative")
		return savings.Initiative{}, "", false
	}
	return in, string(doc), true
}

// createInitiative answers POST /v1/initiatives: it registers an
// initiative whose id is not live.
func (s *Service) createInitiative(w http.ResponseWriter, r *http.Request) {
	if !s.noParams(w, r) {
		return
	}
	in, doc, ok := s.readInitiativeBody(w, r, "")
	if !ok {
		return
	}
	prev, live, ok := s.latestInitiative(w, r, in.ID)
	if !ok {
		return
	}
	if live {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeConflict, "id",
			"initiative %q exists; change it with PUT /v1/initiatives/%s or choose another id", in.ID, in.ID))
		return
	}
	s.storeInitiative(w, r, in.ID, doc, prev.Version, http.StatusCreated)
}

// putInitiative answers PUT /v1/initiatives/{id}: it replaces the
// initiative or creates it, under If-Match and If-None-Match.
func (s *Service) putInitiative(w http.ResponseWriter, r *http.Request) {
	if !s.noParams(w, r) {
		return
	}
	id := r.PathValue("id")
	in, doc, ok := s.readInitiativeBody(w, r, id)
	if !ok {
		return
	}
	prev, live, ok := s.latestInitiative(w, r, in.ID)
	if !ok {
		return
	}
	if match := r.Header.Get("If-Match"); match != "" {
		if !live || !httpapi.IfMatch(match, initiativeTag(prev.Version)) {
			httpapi.WriteError(w, httpapi.Errorf(httpapi.CodePreconditionFail, "If-Match",
				"initiative %q changed since you read it (or is gone); GET it again, reapply your change and retry (If-Match takes the strong ETag \"v<version>\", never W/)", id))
			return
		}
	}
	// If-None-Match: * creates only; a tag refuses to overwrite that version.
	if inm := r.Header.Get("If-None-Match"); inm != "" && live && httpapi.ETagMatch(inm, initiativeTag(prev.Version)) {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodePreconditionFail, "If-None-Match",
			"initiative %q exists (version %d); with If-None-Match: * the PUT only creates. GET it and PUT with If-Match to change it", id, prev.Version))
		return
	}
	status := http.StatusOK
	if !live {
		status = http.StatusCreated
	}
	s.storeInitiative(w, r, in.ID, doc, prev.Version, status)
}

// latestInitiative reads the newest row of id, live or deleted (live
// false, prev.Version the deletion's), answering the error itself when the
// store fails.
func (s *Service) latestInitiative(w http.ResponseWriter, r *http.Request, id string) (prev storedInitiative, live, ok bool) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	stored, _, err := s.store.initiatives(ctx, id)
	if err != nil {
		httpapi.WriteError(w, s.storeError(r, err))
		return prev, false, false
	}
	prev, exists := stored[id]
	return prev, exists && !prev.Deleted, true
}

// decodeStored reads a stored initiative document, answering 500 itself
// when it no longer decodes (it was valid when written).
func (s *Service) decodeStored(w http.ResponseWriter, id, doc string) (savings.Initiative, bool) {
	in, err := savings.Decode(strings.NewReader(doc))
	if err != nil {
		s.log.Error().Err(err).Str("initiative", id).Msg("stored initiative does not decode")
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeInternal, "", "initiative %s is stored in a form this server cannot read; the log has details", id))
		return in, false
	}
	return in, true
}

// storeInitiative writes doc as the next version of initiative id after
// prev and answers status with it.
func (s *Service) storeInitiative(w http.ResponseWriter, r *http.Request, id, doc string, prev uint64, status int) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	version := nextVersion(prev)
	if err := s.store.writeInitiative(ctx, id, doc, false, version); err != nil {
		httpapi.WriteError(w, s.storeError(r, err))
		return
	}
	s.fresh.bump()
	action := "replace"
	if status == http.StatusCreated {
		action = "create"
	}
	s.auditWrite(r, action, id, version)
	h := w.Header()
	h.Set("ETag", initiativeTag(version))
	h.Set("Location", "/v1/initiatives/"+id)
	h.Set("Content-Type", httpapi.ContentTypeJSON)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, doc+"\n")
}

// deleteInitiative answers DELETE /v1/initiatives/{id}, under If-Match.
func (s *Service) deleteInitiative(w http.ResponseWriter, r *http.Request) {
	if !s.noParams(w, r) {
		return
	}
	id, cur, ok := s.currentInitiative(w, r)
	if !ok {
		return
	}
	if match := r.Header.Get("If-Match"); match != "" && !httpapi.IfMatch(match, initiativeTag(cur.Version)) {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodePreconditionFail, "If-Match",
			"initiative %q changed since you read it; GET it again and retry", id))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	version := nextVersion(cur.Version)
	if err := s.store.writeInitiative(ctx, id, "", true, version); err != nil {
		httpapi.WriteError(w, s.storeError(r, err))
		return
	}
	s.fresh.bump()
	s.auditWrite(r, "delete", id, version)
	w.WriteHeader(http.StatusNoContent)
}

// auditWrite logs and counts an analyst's stored change to initiative id.
// Writes need the analyst token, so the writer is "the analyst token"; the
// request id and address tell one write from another.
func (s *Service) auditWrite(r *http.Request, action, id string, version uint64) {
	s.analystWrites.WithLabelValues(action).Inc()
	s.log.Info().Bool("audit", true).Str("who", "analyst token").Str("remote", r.RemoteAddr).
		Str("request_id", httpapi.RequestID(r.Context())).Str("action", action).Str("initiative", id).
		Uint64("version", version).Msg("initiative " + action)
}

// isJSONMediaType reports whether a Content-Type names application/json
// (parameters such as charset allowed).
func isJSONMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}
