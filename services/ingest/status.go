package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feedstatus"
	"github.com/ounce-data/ounce/pkg/observation"
)

// The feed status lives in its own bucket, extnats.BucketFeedStatus, not
// beside the checkpoint: a checkpoint is the conditional-GET and version
// state of the last success and is rewritten only by a success, while the
// status changes on every run, failures included. Kept apart, a failing feed
// cannot disturb what the next run sends as If-None-Match, and each bucket
// keeps a history of its own kind of record.

// runError is a failed run's error with the step it failed at.
type runError struct {
	kind feedstatus.Kind
	err  error
}

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

// failed marks err as a failure of step kind; nil stays nil.
func failed(kind feedstatus.Kind, err error) error {
	if err == nil {
		return nil
	}
	return &runError{kind: kind, err: err}
}

// recordedError builds the recorded error of a failed run.
func recordedError(err error, at time.Time) *feedstatus.Error {
	e := &feedstatus.Error{Message: err.Error(), Time: at, Kind: feedstatus.KindFetch}
	var re *runError
	if errors.As(err, &re) {
		e.Kind = re.kind
	}
	var se *statusError
	if errors.As(err, &se) {
		e.Kind, e.HTTPStatus = feedstatus.KindHTTPStatus, se.code
	}
	return e
}

// Status returns the recorded status of feedID; ok is false when it has
// never run.
func (in *Ingester) Status(ctx context.Context, feedID string) (st feedstatus.Status, ok bool, err error) {
	kv, err := in.openBucket(ctx, extnats.BucketFeedStatus, &in.statusKV)
	if err != nil {
		return feedstatus.Status{Feed: feedID}, false, err
	}
	return feedstatus.Get(ctx, kv, feedID)
}

// nextRun is when a feed is due after a run that ended at end: one schedule
// after a success, FailureBackoff doubling with each consecutive failure
// (up to the schedule) after a failure.
func (in *Ingester) nextRun(f feedcat.Feed, end time.Time, failures int) time.Time {
	if failures == 0 {
		return end.Add(f.Schedule)
	}
	wait := in.cfg.FailureBackoff
	for i := 1; i < failures && wait < f.Schedule; i++ {
		wait *= 2
	}
	return end.Add(min(wait, f.Schedule))
}

// recordRun writes the status of a run that started at start and sets the
// feed's gauges; it returns the status, whose NextRun holds even when it
// could not be stored. A run stopped by ctx (shutdown, or the lease lost to
// another worker) is not the feed's failure and is not recorded: the zero
// status is returned.
func (in *Ingester) recordRun(ctx context.Context, f feedcat.Feed, start time.Time, res Result, runErr error) feedstatus.Status {
	if runErr != nil && ctx.Err() != nil {
		return feedstatus.Status{}
	}
	// A bounded write that a cancel right after the run cannot cut short.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	log := in.log.With().Str("feed", f.ID).Logger()
	prev, _, err := in.Status(wctx, f.ID)
	if err != nil {
		log.Warn().Err(err).Msg("previous feed status unreadable; starting a new one")
		prev = feedstatus.Status{}
	}
	end := in.cfg.Clock().UTC()
	st := feedstatus.Status{
		Feed:            f.ID,
		Worker:          in.cfg.Worker,
		LastAttempt:     start,
		LastSuccess:     prev.LastSuccess,
		LastError:       prev.LastError,
		Rows:            res.Rows,
		Observations:    res.Observations,
		DurationSeconds: res.Duration.Seconds(),
	}
	switch {
	case runErr != nil:
		st.Result = feedstatus.ResultError
		st.LastError = recordedError(runErr, end)
		st.ConsecutiveFailures = prev.ConsecutiveFailures + 1
	case res.NotModified:
		// The body is the one the last success read: as whole as it was.
		st.Result = feedstatus.ResultNotModified
		st.LastSuccess = &end
		st.Incomplete, st.Quality, st.UnknownFlags = prev.Incomplete, prev.Quality, prev.UnknownFlags
	default:
		st.Result = feedstatus.ResultSuccess
		st.LastSuccess = &end
		st.Incomplete, st.Quality, st.UnknownFlags = res.Incomplete, res.Quality, res.UnknownFlags
	}
	if runErr == nil {
		partial := 0.0
		if st.Incomplete != "" {
			partial = 1
		}
		in.m.partial.WithLabelValues(f.ID).Set(partial)
		for _, code := range observation.QualityCodes {
			in.m.flagged.WithLabelValues(f.ID, code).Set(float64(st.Quality[code]))
		}
	} else {
		st.Incomplete, st.Quality, st.UnknownFlags = prev.Incomplete, prev.Quality, prev.UnknownFlags
	}
	st.NextRun = in.nextRun(f, end, st.ConsecutiveFailures)

	in.m.lastRunRows.WithLabelValues(f.ID).Set(float64(st.Rows))
	in.m.lastRunObservations.WithLabelValues(f.ID).Set(float64(st.Observations))
	in.m.lastRunDuration.WithLabelValues(f.ID).Set(st.DurationSeconds)
	in.m.consecutiveFailures.WithLabelValues(f.ID).Set(float64(st.ConsecutiveFailures))
	in.m.lastAttempt.WithLabelValues(f.ID).Set(unixSeconds(start))

	kv, err := in.openBucket(wctx, extnats.BucketFeedStatus, &in.statusKV)
	if err == nil {
		err = feedstatus.Put(wctx, kv, st)
	}
	if err != nil {
		log.Warn().Err(err).Msg("feed status not recorded")
	}
	return st
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
