package query

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfig(t *testing.T) {
	tests := []struct {
		name        string
		cfg         Config
		errContains string
	}{
		{name: "zero takes defaults", cfg: Config{}},
		{name: "custom", cfg: Config{Addr: ":9999", MaxRows: 10, MaxGeos: 2, QueryTimeout: time.Second}},
		{name: "bad addr", cfg: Config{Addr: "localhost"}, errContains: "--addr"},
		{name: "negative rows", cfg: Config{MaxRows: -1}, errContains: "max rows -1"},
		{name: "negative geos", cfg: Config{MaxGeos: -5}, errContains: "max geos -5"},
		{name: "tiny timeout", cfg: Config{QueryTimeout: time.Millisecond}, errContains: "query timeout"},
		{name: "negative shutdown", cfg: Config{ShutdownTimeout: -time.Second}, errContains: "shutdown timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.WithDefaults().Validate()
			if tt.errContains != "" {
				require.ErrorContains(t, err, tt.errContains)
				return
			}
			require.NoError(t, err)
		})
	}
	d := Config{}.WithDefaults()
	require.Equal(t, Config{Addr: DefaultAddr, MaxRows: DefaultMaxRows, MaxGeos: DefaultMaxGeos, RowsCeiling: DefaultRowsCeiling,
		QueryTimeout: DefaultQueryTimeout, ShutdownTimeout: DefaultShutdownTimeout, FreshnessInterval: DefaultFreshnessInterval}, d)
}
