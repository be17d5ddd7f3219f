package feeds

import "math/bits"

// KeySet records which row first had each observation key, packed in 64
// bits by the adapter: an open-addressing table (linear probing, at most
// half full) that looks a key up and claims it in one probe sequence,
// where a map would hash and probe twice. Its rows are -1 in empty slots.
type KeySet struct {
	keys  []uint64
	rows  []int32
	n     int
	shift uint // 64 - log2(len(keys))
}

// NewKeySet returns a set sized for about hint keys.
func NewKeySet(hint int) *KeySet {
	size := 16
	if hint > 0 {
		size = max(size, 1<<bits.Len(uint(2*hint-1)))
	}
	s := &KeySet{}
	s.alloc(size)
	return s
}

func (s *KeySet) alloc(size int) {
	s.keys = make([]uint64, size)
	s.rows = make([]int32, size)
	for i := range s.rows {
		s.rows[i] = -1
	}
	s.shift = uint(64 - bits.TrailingZeros(uint(size)))
}

func (s *KeySet) slot(k uint64) int {
	return int((k * 0x9E3779B97F4A7C15) >> s.shift)
}

// Len returns the number of keys claimed.
func (s *KeySet) Len() int { return s.n }

// Claim records row for k unless k is there already; it returns the row
// that had k first, if one did.
func (s *KeySet) Claim(k uint64, row int32) (prev int32, dup bool) {
	mask := len(s.keys) - 1
	for i := s.slot(k); ; i = (i + 1) & mask {
		switch {
		case s.rows[i] < 0:
			s.keys[i], s.rows[i] = k, row
			s.n++
			if 2*s.n > len(s.keys) {
				s.grow()
			}
			return 0, false
		case s.keys[i] == k:
			return s.rows[i], true
		}
	}
}

func (s *KeySet) grow() {
	keys, rows := s.keys, s.rows
	s.alloc(2 * len(keys))
	mask := len(s.keys) - 1
	for j, r := range rows {
		if r < 0 {
			continue
		}
		i := s.slot(keys[j])
		for s.rows[i] >= 0 {
			i = (i + 1) & mask
		}
		s.keys[i], s.rows[i] = keys[j], r
	}
}
