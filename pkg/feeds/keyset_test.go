package feeds_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds"
)

// A KeySet answers as a map from key to first row does, through its
// growth from any size hint, for keys spread and keys packed close.
func TestKeySet(t *testing.T) {
	for _, hint := range []int{0, 1, 100, 5000} {
		s := feeds.NewKeySet(hint)
		first := map[uint64]int32{}
		rng := rand.New(rand.NewPCG(uint64(hint), 7))
		for row := range int32(30000) {
			k := uint64(rng.Uint32N(50))<<48 | uint64(rng.Uint32N(300))<<16 | uint64(rng.Uint32N(4))
			if row%5 == 0 {
				k = rng.Uint64()
			}
			prev, dup := s.Claim(k, row)
			want, seen := first[k]
			require.Equal(t, seen, dup, "hint %d row %d key %x", hint, row, k)
			if seen {
				require.Equal(t, want, prev, "hint %d row %d key %x", hint, row, k)
				continue
			}
			first[k] = row
		}
		require.Equal(t, len(first), s.Len())
	}
}
