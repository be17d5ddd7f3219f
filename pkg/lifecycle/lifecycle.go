// Package lifecycle runs a service's components as one group: each runs until
// its context ends; the first to return ends the others; Run waits for all
// of them and returns the first error.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Component is one long-running part of a service, such as an HTTP server or
// a consumer. Run blocks until ctx is cancelled (then shuts down cleanly and
// returns nil) or it fails.
type Component struct {
	Name string
	Run  func(ctx context.Context) error
}

// Run starts every component and returns when all have returned. When one
// returns (error or not) before ctx ends, the others are cancelled.
func Run(ctx context.Context, components ...Component) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, c := range components {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.Run(ctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
				mu.Unlock()
			}
			cancel()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
