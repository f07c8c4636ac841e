// Package histogram records latencies in log-linear buckets (HDR-style: 32
// linear sub-buckets per power of two, so any percentile is within ~3% of
// the true value) and merges them across goroutines and worker processes.
package histogram

import (
	"encoding/json"
	"math"
	"math/bits"
)

const (
	subBits    = 5
	subCount   = 1 << subBits // linear sub-buckets per power of two
	exactBelow = 2 * subCount // values below this have a bucket each
	maxExp     = 40           // covers values up to 2^45: far beyond any latency in µs
	numBuckets = exactBelow + maxExp*subCount
)

// Histogram counts non-negative integer values (the benchmark records
// microseconds). The zero value is empty and ready to use; it is not safe
// for concurrent use: give each goroutine its own and Merge them.
type Histogram struct {
	counts []uint64
	count  uint64
	sum    float64
	min    uint64
	max    uint64
}

// index returns the bucket holding v.
func index(v uint64) int {
	if v < exactBelow {
		return int(v)
	}
	e := bits.Len64(v) - (subBits + 1) // v>>e is in [subCount, 2*subCount)
	if e > maxExp {
		return numBuckets - 1
	}
	return exactBelow + (e-1)*subCount + int(v>>e) - subCount
}

// bounds returns the smallest and largest value bucket i holds.
func bounds(i int) (lo, hi uint64) {
	if i < exactBelow {
		return uint64(i), uint64(i)
	}
	e := (i-exactBelow)/subCount + 1
	m := uint64((i-exactBelow)%subCount + subCount)
	return m << e, (m+1)<<e - 1
}

// Record adds one value.
func (h *Histogram) Record(v uint64) {
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
	}
	h.counts[index(v)]++
	if h.count == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.count++
	h.sum += float64(v)
}

// Merge adds every value of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.count == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.count == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.count += o.count
	h.sum += o.sum
}

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.count }

// Min and Max are the exact extremes (0 when empty).
func (h *Histogram) Min() uint64 { return h.min }

// Max is the largest value recorded.
func (h *Histogram) Max() uint64 { return h.max }

// Mean is the exact arithmetic mean (0 when empty).
func (h *Histogram) Mean() float64 {
	if h.count == 0 {
		return 0
	}
	return h.sum / float64(h.count)
}

// Quantile returns the value at quantile q (0 < q ≤ 1): the value v such
// that at least q of the recorded values are ≤ v, up to the bucket's
// resolution (the bucket's midpoint, clamped to the exact min and max).
// It returns 0 when the histogram is empty.
func (h *Histogram) Quantile(q float64) uint64 {
	if h.count == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.count)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			if i == numBuckets-1 {
				return h.max // the overflow bucket has no useful midpoint
			}
			lo, hi := bounds(i)
			v := lo + (hi-lo)/2
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}

// wire is the JSON form: sparse [bucket, count] pairs plus the exact figures.
type wire struct {
	Buckets [][2]uint64 `json:"buckets"`
	Count   uint64      `json:"count"`
	Sum     float64     `json:"sum"`
	Min     uint64      `json:"min"`
	Max     uint64      `json:"max"`
}

// MarshalJSON encodes the non-empty buckets, so a histogram crosses the
// worker protocol in a few hundred bytes.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	w := wire{Buckets: [][2]uint64{}, Count: h.count, Sum: h.sum, Min: h.min, Max: h.max}
	for i, c := range h.counts {
		if c != 0 {
			w.Buckets = append(w.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (h *Histogram) UnmarshalJSON(data []byte) error {
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*h = Histogram{count: w.Count, sum: w.Sum, min: w.Min, max: w.Max}
	if len(w.Buckets) > 0 {
		h.counts = make([]uint64, numBuckets)
		for _, b := range w.Buckets {
			if b[0] < numBuckets {
				h.counts[b[0]] += b[1]
			}
		}
	}
	return nil
}
