package loadgen

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/histogram"
)

// Stats is what one workload measured in its window.
type Stats struct {
	// Ops counts the operations completed inside the window: replies
	// received, handshakes completed, POSTs answered, messages delivered,
	// churn cycles.
	Ops int64 `json:"ops"`
	// Total counts them over the whole run, warm-up and drain included.
	Total int64 `json:"total"`
	// Sent counts messages sent inside the window (open loop: the offered load).
	Sent int64 `json:"sent,omitempty"`
	// Errors counts failures of any kind; ErrorSamples keeps the first few.
	Errors       int64    `json:"errors"`
	ErrorSamples []string `json:"errorSamples,omitempty"`
	// Latency holds the operations' latencies in µs (round trip, handshake,
	// POST round trip or delivery).
	Latency histogram.Histogram `json:"latency"`
	// Seconds is the window's length.
	Seconds float64 `json:"seconds"`
}

const maxErrorSamples = 5

// Fail counts one error.
func (s *Stats) Fail(err error) {
	s.Errors++
	if len(s.ErrorSamples) < maxErrorSamples {
		s.ErrorSamples = append(s.ErrorSamples, err.Error())
	}
}

// Done counts one operation started at start and finished at end; it
// counts towards the rate and the latencies only inside the window w.
func (s *Stats) Done(w Window, start, end time.Time) {
	s.Total++
	if w.In(end) {
		s.Ops++
		s.Latency.Record(micros(end.Sub(start)))
	}
}

// Merge adds o to s (the window is assumed to be the same).
func (s *Stats) Merge(o *Stats) {
	s.Ops += o.Ops
	s.Total += o.Total
	s.Sent += o.Sent
	s.Errors += o.Errors
	for _, e := range o.ErrorSamples {
		if len(s.ErrorSamples) < maxErrorSamples {
			s.ErrorSamples = append(s.ErrorSamples, e)
		}
	}
	s.Latency.Merge(&o.Latency)
	s.Seconds = max(s.Seconds, o.Seconds)
}

// Rate is Ops per second of window.
func (s *Stats) Rate() float64 {
	if s.Seconds <= 0 {
		return 0
	}
	return float64(s.Ops) / s.Seconds
}

// collector merges per-goroutine Stats.
type collector struct {
	mu sync.Mutex
	Stats
}

func (c *collector) add(s *Stats) {
	c.mu.Lock()
	c.Merge(s)
	c.mu.Unlock()
}

// Window is the measured interval: operations completing between
// Start+Warmup and End count.
type Window struct {
	From, End time.Time
}

// NewWindow starts now: a warm-up, then the measured duration.
func NewWindow(start time.Time, warmup, duration time.Duration) Window {
	return Window{From: start.Add(warmup), End: start.Add(warmup + duration)}
}

// In reports whether t falls in the window.
func (w Window) In(t time.Time) bool { return !t.Before(w.From) && t.Before(w.End) }

// Seconds is the window's length.
func (w Window) Seconds() float64 { return w.End.Sub(w.From).Seconds() }

func micros(d time.Duration) uint64 {
	if d < 0 {
		return 0
	}
	return uint64(d / time.Microsecond)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
