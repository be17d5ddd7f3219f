// Package feedstatus is the health record of a feed: what its last run did,
// when it last succeeded, its last error and when it runs next. The ingest
// workers write one record per feed, after every run, as JSON in the
// JetStream key-value bucket extnats.BucketFeedStatus under the feed id; the
// query service reads them for GET /v1/feeds.
package feedstatus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Results of a run, the values of Status.Result.
const (
	ResultSuccess     = "success"
	ResultNotModified = "not_modified"
	ResultError       = "error"
)

// Kind says at which step a run failed.
type Kind string

// Kinds of run errors.
const (
	KindFetch      Kind = "fetch"       // network, file or body-size error reading the source
	KindHTTPStatus Kind = "http_status" // the source answered an HTTP status other than 200 or 304
	KindParse      Kind = "parse"       // the body does not fit the feed's format or mapping
	KindPublish    Kind = "publish"     // JetStream did not acknowledge a message
	KindCheckpoint Kind = "checkpoint"  // the checkpoint could not be read or saved
)

// Error is a failed run's error.
type Error struct {
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
	Kind    Kind      `json:"kind"`
	// HTTPStatus is the status answered, for KindHTTPStatus.
	HTTPStatus int `json:"http_status,omitempty"`
}

// Status is one feed's record. Rows, Observations and DurationSeconds are
// of the last run, whatever its result; LastError is the most recent
// failure and stays after a later success (its Time tells),
// ConsecutiveFailures says whether the feed is failing now.
type Status struct {
	Feed                string     `json:"feed"`
	Worker              string     `json:"worker"` // the worker that ran it last
	Result              string     `json:"result"` // of the last run: success, not_modified or error
	LastAttempt         time.Time  `json:"last_attempt"`
	LastSuccess         *time.Time `json:"last_success,omitempty"`
	LastError           *Error     `json:"last_error,omitempty"`
	Rows                int        `json:"rows"`
	Observations        int        `json:"observations"`
	DurationSeconds     float64    `json:"duration_seconds"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	// Incomplete says what the last successful run's body lacks of what the
	// source declares (it is partial); empty when it was whole.
	Incomplete string `json:"incomplete,omitempty"`
	// Quality counts the last successful run's observations flagged by the
	// data-quality rules, by code; UnknownFlags its flag letters the feed's
	// code list lacks, by letter.
	Quality      map[string]int `json:"quality,omitempty"`
	UnknownFlags map[string]int `json:"unknown_flags,omitempty"`
	// NextRun is when the feed is due again: a success plus the schedule,
	// or a failure plus a backoff growing with ConsecutiveFailures.
	NextRun time.Time `json:"next_run"`
}

// Get reads feed's record; ok is false when there is none yet.
func Get(ctx context.Context, kv jetstream.KeyValue, feed string) (s Status, ok bool, err error) {
	e, err := kv.Get(ctx, feed)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Status{Feed: feed}, false, nil
	}
	if err != nil {
		return Status{}, false, fmt.Errorf("get status of feed %s: %w", feed, err)
	}
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		return Status{}, false, fmt.Errorf("decode status of feed %s (revision %d): %w", feed, e.Revision(), err)
	}
	return s, true, nil
}

// Put writes s under s.Feed.
func Put(ctx context.Context, kv jetstream.KeyValue, s Status) error {
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode status of feed %s: %w", s.Feed, err)
	}
	if _, err := kv.Put(ctx, s.Feed, data); err != nil {
		return fmt.Errorf("put status of feed %s: %w", s.Feed, err)
	}
	return nil
}

// All reads every record of the bucket, by feed id, in one pass. A record
// that does not decode is left out and reported in bad, so one corrupt
// key does not hide the others.
func All(ctx context.Context, kv jetstream.KeyValue) (byFeed map[string]Status, bad []error, err error) {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, nil, fmt.Errorf("watch feed status: %w", err)
	}
	defer func() {
		if serr := w.Stop(); serr != nil && err == nil {
			err = fmt.Errorf("stop feed status watcher: %w", serr)
		}
	}()
	byFeed = map[string]Status{}
	for {
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("read feed status: %w", ctx.Err())
		case e, open := <-w.Updates():
			if !open {
				return nil, nil, errors.New("read feed status: watcher closed")
			}
			if e == nil { // every current value has been sent
				return byFeed, bad, nil
			}
			var s Status
			if err := json.Unmarshal(e.Value(), &s); err != nil {
				bad = append(bad, fmt.Errorf("decode status of feed %s (revision %d): %w", e.Key(), e.Revision(), err))
				continue
			}
			byFeed[e.Key()] = s
		}
	}
}
