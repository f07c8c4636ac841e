package throttle

import "sync/atomic"

// Limiter is the state of one token bucket under GCRA: the theoretical
// arrival time (TAT), the instant at which the bucket would be full again.
// Its zero value is a full bucket (for any now ≥ 0). It is 8 bytes and safe
// for concurrent use; the parameters are passed to each call, so one
// [Rate] serves every connection.
//
// Allow admits a request at now when the bucket holds a whole token, that is
// when max(TAT, now) + interval - now ≤ burst × interval, and then moves TAT
// to max(TAT, now) + interval: exactly the decisions of a token bucket whose
// token count is burst - (TAT - now)/interval.
type Limiter struct {
	tat atomic.Int64
}

// Allow reports whether one request may happen at now (nanoseconds, see
// [Now]) under r, and takes its token if so. A nil or zero r admits
// everything without touching the state. A refusal only reads the state.
func (l *Limiter) Allow(now int64, r *Rate) bool {
	if r == nil || r.interval == 0 {
		return true
	}
	for {
		tat := l.tat.Load()
		next, ok := r.next(tat, now)
		if !ok {
			return false
		}
		if l.tat.CompareAndSwap(tat, next) {
			return true
		}
	}
}

// AllowSerial is Allow for a limiter whose calls come one at a time with a
// clock that never goes back (one connection's messages, on its reader),
// and whose rate may change between calls (a reload). A state beyond r's
// bound (TAT later than now + burst × interval), which only a stricter
// rate can have left there, is first brought back to that bound: the
// bucket is empty under r, and the next token comes at r's pace, not the
// old one's. Shared limiters must not use it: concurrent callers' clock
// readings arrive out of order, and each would give tokens back.
func (l *Limiter) AllowSerial(now int64, r *Rate) bool {
	if r == nil || r.interval == 0 {
		return true
	}
	tat := l.tat.Load()
	bounded := min(tat, now+r.tolerance)
	next, ok := r.next(bounded, now)
	switch {
	case ok:
		l.tat.Store(next) // serial: no other call can have moved it
	case bounded != tat:
		l.tat.Store(bounded)
	}
	return ok
}

// undo returns the token Allow took under r, as though that request had not
// happened (used when a later check refuses it).
func (l *Limiter) undo(r *Rate) {
	if r != nil && r.interval != 0 {
		l.tat.Add(-r.interval)
	}
}

// next is one GCRA step: the TAT after admitting a request at now, and
// whether it is admitted: next-now ≤ tolerance, written so that it cannot
// overflow when now is far in the past (Nanos of a zero time.Time is
// math.MinInt64; next-now would wrap negative and admit everything).
func (r *Rate) next(tat, now int64) (int64, bool) {
	next := max(tat, now) + r.interval
	return next, next-r.tolerance <= now
}

// Bucket is a [Limiter] with its own [Rate]: a throttle shared by everyone
// who holds the pointer (a route, a stage, the whole node). It fills a
// cache line of its own, so two hot buckets never share one. A nil *Bucket
// admits everything.
type Bucket struct {
	lim  Limiter
	rate Rate
	_    [64 - 8 - 16]byte
}

// NewBucket returns a full bucket for l.
func NewBucket(l Limit) (*Bucket, error) {
	r, err := NewRate(l)
	if err != nil {
		return nil, err
	}
	return &Bucket{rate: r}, nil
}

// Allow reports whether one request may happen at now (nanoseconds, see
// [Now]), and takes its token if so.
func (b *Bucket) Allow(now int64) bool {
	if b == nil {
		return true
	}
	return b.lim.Allow(now, &b.rate)
}

// undo returns a token taken by Allow.
func (b *Bucket) undo() {
	if b != nil {
		b.lim.undo(&b.rate)
	}
}
