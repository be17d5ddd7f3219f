package socrata

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds"
)

// The key set answers as a map does, through its growth, for keys packed
// narrow and for keys whose numbers need the wide map.
func TestClaimKeys(t *testing.T) {
	r := &Reader{seen: feeds.NewKeySet(0), seenWide: map[obsKey]int32{}}
	first := map[obsKey]int32{}
	rng := rand.New(rand.NewPCG(1, 2))
	for row := range 20000 {
		k := obsKey{ind: rng.Uint32N(4), geo: rng.Uint32N(60), dims: rng.Uint32N(8), period: rng.Uint32N(40)}
		if row%7 == 0 {
			k.geo += 1 << 16 // beyond the packed form
		}
		prev, dup := r.claim(k, row)
		want, seen := first[k]
		require.Equal(t, seen, dup, "row %d key %+v", row, k)
		if seen {
			require.Equal(t, want, prev, "row %d key %+v", row, k)
			continue
		}
		first[k] = int32(row)
	}
	require.Greater(t, len(r.seenWide), 0)
	require.Equal(t, len(first), r.seen.Len()+len(r.seenWide))
}
