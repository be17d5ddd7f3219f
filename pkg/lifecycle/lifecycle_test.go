package lifecycle

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunStopsAllWhenOneFails(t *testing.T) {
	stopped := make(chan struct{})
	err := Run(context.Background(),
		Component{Name: "waits", Run: func(ctx context.Context) error { <-ctx.Done(); close(stopped); return nil }},
		Component{Name: "fails", Run: func(context.Context) error { return errors.New("boom") }},
	)
	require.EqualError(t, err, "fails: boom")
	<-stopped
}

func TestRunReturnsNilOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, Run(ctx, Component{Name: "a", Run: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}))
}
