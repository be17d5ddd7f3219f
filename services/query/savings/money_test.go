package savings_test

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/services/query/savings"
)

func rat(t testing.TB, s string) *big.Rat {
	t.Helper()
	r, ok := new(big.Rat).SetString(s)
	require.Truef(t, ok, "rational %q", s)
	return r
}

func TestRoundHalfEven(t *testing.T) {
	tests := []struct {
		in       string
		currency string
		want     string
	}{
		{"2.345", "GBP", "2.34"}, // tie: 4 is even
		{"2.355", "GBP", "2.36"}, // tie: 6 is even
		{"2.3451", "GBP", "2.35"},
		{"2.3449", "GBP", "2.34"},
		{"-2.345", "GBP", "-2.34"},
		{"-2.355", "GBP", "-2.36"},
		{"1234.5", "JPY", "1234"},
		{"1235.5", "JPY", "1236"},
		{"0.0005", "BHD", "0"}, // 0.0005 → 0.000 (0 is even)
		{"0.0015", "BHD", "0.002"},
		{"-0.001", "GBP", "0"}, // never "-0"
		{"157500", "GBP", "157500"},
		{"1/3", "EUR", "0.33"},
		{"2/3", "USD", "0.67"},
	}
	for _, tt := range tests {
		t.Run(tt.in+" "+tt.currency, func(t *testing.T) {
			exp, ok := savings.MinorUnits(tt.currency)
			require.True(t, ok)
			m := savings.NewMoney(rat(t, tt.in), exp)
			require.Equal(t, tt.want, m.String())
			b, err := json.Marshal(m)
			require.NoError(t, err)
			require.Equal(t, tt.want, string(b))
			require.Zero(t, rat(t, tt.want).Cmp(savings.RoundHalfEven(rat(t, tt.in), exp)))
		})
	}
}

func TestMoneyKeepsTheExactValue(t *testing.T) {
	m := savings.NewMoney(rat(t, "2.345"), 2)
	require.Equal(t, "2.34", m.String())
	require.Zero(t, rat(t, "2.345").Cmp(m.Rat()), "rounding is for showing only")
	require.Equal(t, "0", savings.Money{}.String())
}

func TestMinorUnits(t *testing.T) {
	for code, want := range map[string]int{"GBP": 2, "EUR": 2, "USD": 2, "JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3, "CLF": 4} {
		got, ok := savings.MinorUnits(code)
		require.Truef(t, ok, code)
		require.Equalf(t, want, got, code)
	}
	for _, code := range []string{"ABC", "gbp", "XAU", ""} {
		_, ok := savings.MinorUnits(code)
		require.Falsef(t, ok, code)
	}
}

func TestNumIsExact(t *testing.T) {
	tests := []struct{ in, want, errContains string }{
		{in: "0.1", want: "0.1"},
		{in: "1e-5", want: "0.00001"},
		{in: "1.5E3", want: "1500"},
		{in: "-0.035", want: "-0.035"},
		{in: "0.30000000000000004", want: "0.30000000000000004"},
		{in: "1e999", errContains: "exponent"},
		{in: "1" + strings.Repeat("0", 40), errContains: "characters"},
		{in: "01", errContains: "not a number"},
		{in: "NaN", errContains: "not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, err := savings.ParseNum(tt.in)
			if tt.errContains != "" {
				require.ErrorContains(t, err, tt.errContains)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, n.String())
		})
	}
	// Ten tenths are exactly one: no float error creeps in.
	sum := new(big.Rat)
	tenth, err := savings.ParseNum("0.1")
	require.NoError(t, err)
	for range 10 {
		sum.Add(sum, tenth.Rat())
	}
	require.Zero(t, big.NewRat(1, 1).Cmp(sum))
}
