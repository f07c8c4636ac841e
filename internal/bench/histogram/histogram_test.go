package histogram

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBucketsCoverEveryValueOnce(t *testing.T) {
	prevHi := uint64(0)
	for i := range numBuckets {
		lo, hi := bounds(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if index(lo) != i || index(hi) != i {
			t.Fatalf("bucket %d [%d,%d]: index(lo)=%d index(hi)=%d", i, lo, hi, index(lo), index(hi))
		}
		if lo >= exactBelow && float64(hi-lo+1)/float64(lo) > 1.0/subCount+1e-9 {
			t.Fatalf("bucket %d [%d,%d] is wider than 1/%d of its value", i, lo, hi, subCount)
		}
		prevHi = hi
	}
	if got := index(math.MaxUint64); got != numBuckets-1 {
		t.Fatalf("index(max) = %d, want the last bucket", got)
	}
}

// exact returns the q-quantile of sorted values by the same rank rule.
func exact(sorted []uint64, q float64) uint64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

func TestQuantilesWithinResolution(t *testing.T) {
	for name, gen := range map[string]func(r *rand.Rand) uint64{
		"uniform 1..10000":   func(r *rand.Rand) uint64 { return 1 + r.Uint64N(10000) },
		"small exact values": func(r *rand.Rand) uint64 { return r.Uint64N(50) },
		"long tail": func(r *rand.Rand) uint64 {
			return uint64(100 * math.Exp(r.ExpFloat64()*0.7))
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var h Histogram
			vals := make([]uint64, 100000)
			for i := range vals {
				vals[i] = gen(r)
				h.Record(vals[i])
			}
			slices.Sort(vals)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
				want, got := exact(vals, q), h.Quantile(q)
				tol := float64(want)/subCount + 1
				if math.Abs(float64(got)-float64(want)) > tol {
					t.Errorf("p%v = %d, want %d ± %.0f", q*100, got, want, tol)
				}
			}
			if h.Count() != uint64(len(vals)) || h.Min() != vals[0] || h.Max() != vals[len(vals)-1] {
				t.Errorf("count/min/max = %d/%d/%d, want %d/%d/%d", h.Count(), h.Min(), h.Max(), len(vals), vals[0], vals[len(vals)-1])
			}
		})
	}
}

func TestEmptyAndSingle(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Mean() != 0 || h.Count() != 0 {
		t.Fatal("empty histogram should report zeros")
	}
	h.Record(123456)
	for _, q := range []float64{0.001, 0.5, 0.999, 1} {
		if got := h.Quantile(q); got != 123456 {
			t.Errorf("single value: p%v = %d, want 123456 (clamped to min/max)", q*100, got)
		}
	}
}

func TestMergeEqualsRecordingTogether(t *testing.T) {
	var a, b, all Histogram
	for v := range uint64(5000) {
		if v%3 == 0 {
			a.Record(v * 7)
		} else {
			b.Record(v * 7)
		}
		all.Record(v * 7)
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(nil)
	m.Merge(&Histogram{})
	for _, q := range []float64{0.5, 0.99, 0.999} {
		if m.Quantile(q) != all.Quantile(q) {
			t.Errorf("p%v: merged %d, together %d", q*100, m.Quantile(q), all.Quantile(q))
		}
	}
	if m.Count() != all.Count() || m.Min() != all.Min() || m.Max() != all.Max() || m.Mean() != all.Mean() {
		t.Error("merged count/min/max/mean differ")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var h Histogram
	for v := range uint64(20000) {
		h.Record(v * v % 100003)
	}
	data, err := json.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	var back Histogram
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	for _, q := range []float64{0.5, 0.99, 0.999} {
		if back.Quantile(q) != h.Quantile(q) {
			t.Errorf("p%v after round trip: %d, want %d", q*100, back.Quantile(q), h.Quantile(q))
		}
	}
	if back.Count() != h.Count() || back.Max() != h.Max() {
		t.Error("count/max lost in the round trip")
	}
	var empty Histogram
	data, _ = json.Marshal(&empty)
	if err := json.Unmarshal(data, &back); err != nil || back.Count() != 0 {
		t.Errorf("empty round trip: %v, count %d", err, back.Count())
	}
}
