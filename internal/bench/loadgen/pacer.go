package loadgen

import (
	"context"
	"time"
)

// Pacer schedules sends at a fixed rate from a start time: the i-th send is
// due at start + i/rate, whether or not the previous ones went out on time
// (open loop). Latency is measured from the scheduled time, so a stalled
// sender shows up as latency instead of silently lowering the offered load
// (coordinated omission).
type Pacer struct {
	start    time.Time
	interval float64 // nanoseconds between sends
	n        int64
	sleep    func(context.Context, time.Duration) bool
	now      func() time.Time
}

// NewPacer returns a pacer for rate sends per second from start.
func NewPacer(start time.Time, rate float64) *Pacer {
	return &Pacer{start: start, interval: float64(time.Second) / rate, sleep: sleepCtx, now: time.Now}
}

// At returns when the i-th send (from 0) is due.
func (p *Pacer) At(i int64) time.Time {
	return p.start.Add(time.Duration(float64(i) * p.interval))
}

// Next returns the time of the next send, without waiting.
func (p *Pacer) Next() time.Time {
	t := p.At(p.n)
	p.n++
	return t
}

// Wait returns the time of the next send once it is due (at once if it is
// already late), or false if ctx ended first.
func (p *Pacer) Wait(ctx context.Context) (time.Time, bool) {
	t := p.Next()
	if d := t.Sub(p.now()); d > 0 {
		if !p.sleep(ctx, d) {
			return t, false
		}
	}
	return t, ctx.Err() == nil
}

// Due returns how many sends are due by now and not yet taken with Next.
func (p *Pacer) Due(now time.Time) int64 {
	due := int64(float64(now.Sub(p.start))/p.interval) + 1
	if now.Before(p.start) {
		due = 0
	}
	return max(due-p.n, 0)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
