package query_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feedstatus"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/schemas"
	"github.com/ounce-data/ounce/services/query"
)

// getFeeds asks GET /v1/feeds and checks the answer against the document.
func getFeeds(t *testing.T, f *fixture, target string, header ...string) (int, query.FeedsResponse, string) {
	t.Helper()
	doc := loadOpenAPI(t, schemas.QueryOpenAPI)
	rec := f.get(t, target, header...)
	doc.checkResponse(t, doc.operation(t, http.MethodGet, "/v1/feeds"), rec)
	var resp query.FeedsResponse
	if rec.Code == http.StatusOK {
		resp = decode[query.FeedsResponse](t, rec)
	}
	return rec.Code, resp, rec.Header().Get("ETag")
}

func TestIntegrationFeeds(t *testing.T) {
	ns := testenv.StartNATS(t)
	f := newFixture(t, query.Config{JetStream: ns.JS})
	catalogue, err := feedcat.Load()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(catalogue), 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Nothing recorded: every feed of the catalogue, never run.
	code, resp, tag := getFeeds(t, f, "/v1/feeds")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, len(catalogue), resp.Count)
	require.Len(t, resp.Feeds, len(catalogue))
	for i, c := range catalogue {
		e := resp.Feeds[i]
		require.Equal(t, query.FeedEntry{
			ID: c.ID, Format: c.Format, Domain: c.Domain, URL: c.URL, Licence: c.Licence, Attribution: c.Attribution,
			Schedule: c.Schedule.String(), Status: query.FeedNeverRun,
		}, e)
	}
	require.NotEmpty(t, tag)
	rec := f.get(t, "/v1/feeds", "If-None-Match", tag)
	require.Equal(t, http.StatusNotModified, rec.Code)

	// One feed fine, one failing after an earlier success, one record corrupt.
	kv, err := ns.JS.KeyValue(ctx, extnats.BucketFeedStatus)
	require.NoError(t, err)
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	earlier := at.Add(-48 * time.Hour)
	okFeed, failFeed, badFeed := catalogue[0], catalogue[1], catalogue[2]
	require.NoError(t, feedstatus.Put(ctx, kv, feedstatus.Status{
		Feed: okFeed.ID, Worker: "w1", Result: feedstatus.ResultSuccess, LastAttempt: at, LastSuccess: &at,
		Rows: 120, Observations: 480, DurationSeconds: 2.5, NextRun: at.Add(okFeed.Schedule),
	}))
	failure := &feedstatus.Error{Message: "get https://example.org: http status 503 Service Unavailable", Time: at, Kind: feedstatus.KindHTTPStatus, HTTPStatus: 503}
	require.NoError(t, feedstatus.Put(ctx, kv, feedstatus.Status{
		Feed: failFeed.ID, Worker: "w2", Result: feedstatus.ResultError, LastAttempt: at, LastSuccess: &earlier,
		LastError: failure, ConsecutiveFailures: 3, NextRun: at.Add(20 * time.Minute),
	}))
	_, err = kv.Put(ctx, badFeed.ID, []byte("{not json"))
	require.NoError(t, err)

	code, resp, tag2 := getFeeds(t, f, "/v1/feeds")
	require.Equal(t, http.StatusOK, code)
	require.NotEqual(t, tag, tag2, "a new run changes the ETag")
	require.Len(t, resp.Feeds, len(catalogue))
	byID := map[string]query.FeedEntry{}
	for _, e := range resp.Feeds {
		byID[e.ID] = e
	}
	ok := byID[okFeed.ID]
	require.Equal(t, query.FeedOK, ok.Status)
	require.Equal(t, feedstatus.ResultSuccess, ok.Result)
	require.Equal(t, at, *ok.LastSuccess)
	require.Equal(t, at, *ok.LastAttempt)
	require.Equal(t, at.Add(okFeed.Schedule), *ok.NextRun)
	require.Nil(t, ok.LastError)
	require.Equal(t, 120, ok.Rows)
	require.Equal(t, 480, ok.Observations)
	require.Equal(t, 2.5, ok.DurationSeconds)
	require.Equal(t, "w1", ok.Worker)

	fail := byID[failFeed.ID]
	require.Equal(t, query.FeedFailing, fail.Status)
	require.Equal(t, earlier, *fail.LastSuccess)
	require.Equal(t, failure, fail.LastError)
	require.Equal(t, 3, fail.ConsecutiveFailures)

	require.Equal(t, query.FeedNeverRun, byID[badFeed.ID].Status, "an unreadable record shows as never run")
	require.Equal(t, query.FeedNeverRun, byID[catalogue[3].ID].Status)

	rec = f.get(t, "/v1/feeds", "If-None-Match", tag2)
	require.Equal(t, http.StatusNotModified, rec.Code)

	// A parameter is refused, naming it.
	rec = f.get(t, "/v1/feeds?status=failing")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	env := decode[httpapi.Envelope](t, rec)
	require.Equal(t, httpapi.CodeBadRequest, env.Error.Code)
	require.Equal(t, "status", env.Error.Field)

	// No bucket yet (no ingest worker ever started): every feed never run.
	require.NoError(t, ns.JS.DeleteKeyValue(ctx, extnats.BucketFeedStatus))
	code, resp, _ = getFeeds(t, f, "/v1/feeds")
	require.Equal(t, http.StatusOK, code)
	for _, e := range resp.Feeds {
		require.Equal(t, query.FeedNeverRun, e.Status, e.ID)
	}
}

func TestIntegrationFeedsWithoutNATS(t *testing.T) {
	f := newFixture(t, query.Config{})
	code, _, _ := getFeeds(t, f, "/v1/feeds")
	require.Equal(t, http.StatusServiceUnavailable, code)
	rec := f.get(t, "/v1/feeds")
	env := decode[httpapi.Envelope](t, rec)
	require.Equal(t, httpapi.CodeUnavailable, env.Error.Code)
	require.Contains(t, env.Error.Message, "NATS is not configured")
	require.Contains(t, env.Error.Message, "--nats-url")

	// Other routes do not need NATS.
	require.Equal(t, http.StatusOK, f.get(t, "/v1/indicators").Code)
}

func TestIntegrationFeedsNATSDown(t *testing.T) {
	ns := testenv.StartNATS(t)
	f := newFixture(t, query.Config{JetStream: ns.JS, QueryTimeout: time.Second})
	ns.Server.Shutdown()
	ns.Server.WaitForShutdown()
	code, _, _ := getFeeds(t, f, "/v1/feeds")
	require.Equal(t, http.StatusServiceUnavailable, code)
	env := decode[httpapi.Envelope](t, f.get(t, "/v1/feeds"))
	require.Equal(t, "NATS is not answering; retry shortly", env.Error.Message)
}
