package savings_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/services/query/savings"
)

// TestStudentTQuantile checks the quantile against table values (two-sided
// 95 %, i.e. p = 0.975, and others) and the closed forms for 1 and 2
// degrees of freedom: t = tan(π(p − ½)) and t = (2p − 1) / √(2p(1 − p)).
func TestStudentTQuantile(t *testing.T) {
	tests := []struct {
		p    float64
		df   int
		want float64
	}{
		{0.975, 1, math.Tan(math.Pi * (0.975 - 0.5))},
		{0.975, 2, (2*0.975 - 1) / math.Sqrt(2*0.975*(1-0.975))},
		{0.9, 1, math.Tan(math.Pi * (0.9 - 0.5))},
		{0.99, 2, (2*0.99 - 1) / math.Sqrt(2*0.99*(1-0.99))},
		// Table values (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2, 3 decimals there).
		{0.975, 3, 3.182446305284263},
		{0.975, 4, 2.776445105197799},
		{0.975, 5, 2.570581835636314},
		{0.975, 10, 2.228138851986274},
		{0.975, 30, 2.042272456301238},
		{0.975, 100, 1.983971518523552},
		{0.95, 10, 1.812461122811676},
		{0.995, 5, 4.032142983557536},
		{0.025, 10, -2.228138851986274},
		{0.5, 7, 0},
	}
	for _, tt := range tests {
		got := savings.StudentTQuantile(tt.p, tt.df)
		require.InDeltaf(t, tt.want, got, 1e-9, "p=%v df=%d", tt.p, tt.df)
	}
	// Large df approach the normal quantile 1.959963985.
	require.InDelta(t, 1.959963985, savings.StudentTQuantile(0.975, 100000), 1e-4)
	for _, bad := range []struct {
		p  float64
		df int
	}{{0, 3}, {1, 3}, {0.975, 0}, {math.NaN(), 3}} {
		require.Truef(t, math.IsNaN(savings.StudentTQuantile(bad.p, bad.df)), "p=%v df=%d", bad.p, bad.df)
	}
}
