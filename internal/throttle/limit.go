package throttle

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Limit is a token bucket as API Gateway's route settings state it.
type Limit struct {
	// Rate is the steady rate in tokens (requests) per second: API Gateway's
	// throttlingRateLimit. +Inf, or anything above 2e9, is unlimited
	// (whatever the burst); 0 admits nothing.
	Rate float64
	// Burst is the bucket size: API Gateway's throttlingBurstLimit. 0 admits
	// nothing.
	Burst int
}

// AWSDefault is the throttle API Gateway puts in a new stage's
// defaultRouteSettings (ThrottlingBurstLimit 5000, ThrottlingRateLimit
// 10000), which is also the account-level limit in most regions.
var AWSDefault = Limit{Rate: 10000, Burst: 5000}

// maxWindow bounds burst × interval, the time a bucket takes to refill
// from empty, so that TAT arithmetic cannot overflow (2^62 ns is 146 years).
const maxWindow = 1 << 62

// Rate is a [Limit] compiled for GCRA: the emission interval (nanoseconds
// per token) and the tolerance (burst × interval). The zero Rate, like a
// nil *Rate, is unlimited. A Rate is immutable and may be shared by any
// number of [Limiter]s.
type Rate struct {
	interval  int64 // ns per token; 0: unlimited
	tolerance int64 // burst × interval; 0 with interval > 0: admits nothing
}

// NewRate compiles l. The interval is 1e9/l.Rate nanoseconds rounded to the
// nearest nanosecond, so the rate is exact when that quotient is whole (1,
// 10, 10000/s ...) and otherwise off by less than 0.5 ns per token (a
// relative error under 1e-7 at 123.456/s). Unlike rate.Limiter, whose zero rate grants the burst
// once and never again, a zero Rate or zero Burst admits nothing: a
// throttle of 0 closes a route. A negative or NaN rate, a negative burst,
// and a rate so low that the bucket would take more than 146 years to
// refill are errors.
func NewRate(l Limit) (Rate, error) {
	switch {
	case math.IsNaN(l.Rate) || l.Rate < 0:
		return Rate{}, fmt.Errorf("throttle: rate %v: must be a number ≥ 0", l.Rate)
	case l.Burst < 0:
		return Rate{}, fmt.Errorf("throttle: burst %d: must be ≥ 0", l.Burst)
	case l.Rate == 0:
		return Rate{interval: 1, tolerance: 0}, nil
	}
	iv := math.Round(float64(time.Second) / l.Rate)
	switch {
	case iv == 0:
		return Rate{}, nil // more than one token per nanosecond: unlimited, as rate.Inf
	case l.Burst == 0:
		return Rate{interval: 1, tolerance: 0}, nil
	}
	if iv*float64(l.Burst) > maxWindow {
		return Rate{}, errors.New("throttle: rate too low for its burst: the bucket would take more than 146 years to refill")
	}
	return Rate{interval: int64(iv), tolerance: int64(iv) * int64(l.Burst)}, nil
}

// Unlimited reports whether r admits everything.
func (r *Rate) Unlimited() bool { return r == nil || r.interval == 0 }

// epoch is the origin of [Now]: the process's first reading of the clock,
// which carries the monotonic reading every later one is measured against.
var epoch = time.Now()

// Now returns the monotonic clock in nanoseconds since the process started,
// the time base of every limiter in this package.
func Now() int64 { return int64(time.Since(epoch)) }

// Nanos converts t, a reading of time.Now (with its monotonic part), to the
// time base of [Now], so a caller that has read the clock anyway need not
// read it again.
func Nanos(t time.Time) int64 { return int64(t.Sub(epoch)) }
