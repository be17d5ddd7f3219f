package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/services/gateway"
)

// A partner's series with one year far off its neighbours is accepted
// whole, the odd year stored with quality "outlier" and counted in the
// summary; the other years carry no code.
func TestPushFlagsOutliersOfASeries(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	var rows []string
	for y := 2010; y < 2022; y++ {
		v := 30 + 0.5*float64(y-2010) + 0.3*float64(y%2*2-1) // a trend with noise
		if y == 2016 {
			v = 80 // a keying error: 80 for 33
		}
		rows = append(rows, fmt.Sprintf(`{"indicator":"who.NCD_PAA","geo":"GBR","period":"%d","value":%g}`, y, v))
	}
	before := f.streamMessages(t)
	rec := f.push(t, f.keyA, gateway.FormatJSON, "", jsonBody(rows...))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	s := summary(t, rec)
	require.Equal(t, 12, s.Counts.Accepted)
	require.Equal(t, map[string]int{observation.QualityOutlier: 1}, s.Quality)

	st, err := f.nats.JS.Stream(context.Background(), "OBS")
	require.NoError(t, err)
	m, err := st.GetMsg(context.Background(), before+1)
	require.NoError(t, err)
	b, err := observation.Decode(m.Data)
	require.NoError(t, err)
	require.Len(t, b.Observations, 12)
	for _, o := range b.Observations {
		if o.Period.Start.Year() == 2016 {
			require.Equal(t, []string{observation.QualityOutlier}, o.Quality)
		} else {
			require.Empty(t, o.Quality, "%d", o.Period.Start.Year())
		}
	}
}
