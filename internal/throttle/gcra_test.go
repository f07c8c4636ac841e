package throttle

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/time/rate"
)

const ms = int64(time.Millisecond)

func mustRate(t testing.TB, l Limit) *Rate {
	t.Helper()
	r, err := NewRate(l)
	if err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestNewRate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		l         Limit
		interval  int64
		tolerance int64
		err       bool
	}{
		{"aws default", AWSDefault, 100_000, 5000 * 100_000, false},
		{"one per second", Limit{Rate: 1, Burst: 3}, 1e9, 3e9, false},
		{"fractional", Limit{Rate: 0.5, Burst: 1}, 2e9, 2e9, false},
		{"rounded", Limit{Rate: 3, Burst: 2}, 333_333_333, 666_666_666, false},
		{"zero rate closes", Limit{Rate: 0, Burst: 10}, 1, 0, false},
		{"zero burst closes", Limit{Rate: 10, Burst: 0}, 1, 0, false},
		{"infinite", Limit{Rate: math.Inf(1), Burst: 1}, 0, 0, false},
		{"x/time Inf", Limit{Rate: float64(rate.Inf), Burst: 1}, 0, 0, false},
		{"above 2e9", Limit{Rate: 3e9, Burst: 1}, 0, 0, false},
		{"negative rate", Limit{Rate: -1, Burst: 1}, 0, 0, true},
		{"NaN rate", Limit{Rate: math.NaN(), Burst: 1}, 0, 0, true},
		{"negative burst", Limit{Rate: 1, Burst: -1}, 0, 0, true},
		{"window too long", Limit{Rate: 1e-9, Burst: 5000}, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRate(tc.l)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if r.interval != tc.interval || r.tolerance != tc.tolerance {
				t.Fatalf("got interval %d tolerance %d, want %d %d", r.interval, r.tolerance, tc.interval, tc.tolerance)
			}
		})
	}
}

func TestSizes(t *testing.T) {
	if s := unsafe.Sizeof(Limiter{}); s != 8 {
		t.Errorf("Limiter is %d bytes, want 8", s)
	}
	if s := unsafe.Sizeof(Bucket{}); s != 64 {
		t.Errorf("Bucket is %d bytes, want 64 (one cache line)", s)
	}
	if s := unsafe.Sizeof(ipShard{}); s != 64 {
		t.Errorf("ipShard is %d bytes, want 64", s)
	}
}

// TestLimiterBurstThenRate: a full bucket admits its burst at once, then
// one request per interval, and never stores more than the burst.
func TestLimiterBurstThenRate(t *testing.T) {
	r := mustRate(t, Limit{Rate: 10, Burst: 5}) // one token per 100 ms
	var l Limiter
	steps := []struct {
		at   int64
		want bool
	}{
		{0, true}, {0, true}, {0, true}, {0, true}, {0, true}, // the burst
		{0, false}, {99 * ms, false}, // empty until a token has refilled
		{100 * ms, true}, {100 * ms, false},
		{150 * ms, false}, {200 * ms, true},
		{450 * ms, true}, {450 * ms, true}, {450 * ms, false}, // 2.5 tokens refilled
		{500 * ms, true}, // the half token completed
		{10_000 * ms, true}, {10_000 * ms, true}, {10_000 * ms, true}, {10_000 * ms, true}, {10_000 * ms, true},
		{10_000 * ms, false}, // an idle bucket still holds only the burst
	}
	for i, s := range steps {
		if got := l.Allow(s.at, r); got != s.want {
			t.Fatalf("step %d at %v: Allow = %v, want %v", i, time.Duration(s.at), got, s.want)
		}
	}
}

func TestLimiterClosedAndUnlimited(t *testing.T) {
	var l Limiter
	for _, lim := range []Limit{{Rate: 0, Burst: 5}, {Rate: 5, Burst: 0}} {
		r := mustRate(t, lim)
		for at := int64(0); at < 10e9; at += 1e9 {
			if l.Allow(at, r) {
				t.Fatalf("%+v admitted a request at %v", lim, time.Duration(at))
			}
		}
	}
	for _, r := range []*Rate{nil, {}, mustRate(t, Limit{Rate: math.Inf(1)})} {
		for range 1000 {
			if !l.Allow(0, r) {
				t.Fatal("unlimited rate refused")
			}
		}
	}
	if l.tat.Load() != 0 {
		t.Fatal("closed and unlimited rates changed the state")
	}
}

// TestLimiterMatchesRateLimiter drives a GCRA Limiter and an
// x/time/rate.Limiter with the same rate, burst and arrival times and
// requires the same decision for every request.
func TestLimiterMatchesRateLimiter(t *testing.T) {
	type pattern struct {
		name string
		// gap returns the time to the next arrival, given the interval.
		gap func(rng *rand.Rand, iv float64) int64
	}
	patterns := []pattern{
		{"steady above rate", func(rng *rand.Rand, iv float64) int64 { return int64(rng.ExpFloat64() * iv * 0.8) }},
		{"steady below rate", func(rng *rand.Rand, iv float64) int64 { return int64(rng.ExpFloat64() * iv * 1.5) }},
		{"near rate", func(rng *rand.Rand, iv float64) int64 { return int64(iv*0.9) + rng.Int64N(int64(iv*0.2)+1) }},
		{"bursts", func(rng *rand.Rand, iv float64) int64 {
			if rng.IntN(20) == 0 {
				return int64(rng.Float64() * iv * 40) // a pause
			}
			return rng.Int64N(int64(iv/10) + 1) // a burst of near-simultaneous requests
		}},
		{"same instant runs", func(rng *rand.Rand, iv float64) int64 {
			if rng.IntN(8) == 0 {
				return int64(rng.Float64() * iv * 10)
			}
			return 0
		}},
	}
	limits := []Limit{
		{Rate: 1, Burst: 1}, {Rate: 10, Burst: 5}, {Rate: 3, Burst: 2}, {Rate: 7, Burst: 100},
		{Rate: 0.5, Burst: 3}, {Rate: 1000, Burst: 1}, {Rate: 10000, Burst: 5000}, {Rate: 123.456, Burst: 17},
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, lim := range limits {
		for _, p := range patterns {
			t.Run(p.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(lim.Burst), math.Float64bits(lim.Rate)))
				r := mustRate(t, lim)
				var g Limiter
				// The rate.Limiter gets the rate as compiled, with its
				// interval rounded to the nanosecond (TestNewRate covers
				// the rounding); this test is about the algorithm.
				x := rate.NewLimiter(rate.Limit(1e9/float64(r.interval)), lim.Burst)
				iv := float64(r.interval)
				now := int64(0)
				admitted, refused := 0, 0
				for i := range 20000 {
					now += p.gap(rng, iv)
					want := x.AllowN(base.Add(time.Duration(now)), 1)
					if got := g.Allow(now, r); got != want {
						t.Fatalf("%+v request %d at %v: GCRA %v, rate.Limiter %v", lim, i, time.Duration(now), got, want)
					}
					if want {
						admitted++
					} else {
						refused++
					}
				}
				if admitted == 0 || (refused == 0 && p.name != "steady below rate") {
					t.Logf("%+v %s: admitted %d refused %d (pattern does not exercise both)", lim, p.name, admitted, refused)
				}
			})
		}
	}
	// Arrivals exactly on token boundaries.
	for _, lim := range []Limit{{Rate: 10, Burst: 3}, {Rate: 4, Burst: 1}, {Rate: 1000, Burst: 2}} {
		r := mustRate(t, lim)
		var g Limiter
		x := rate.NewLimiter(rate.Limit(lim.Rate), lim.Burst)
		step := r.interval / 2
		for i := range int64(200) {
			now := i * step
			for j := range 3 {
				want := x.AllowN(base.Add(time.Duration(now)), 1)
				if got := g.Allow(now, r); got != want {
					t.Fatalf("%+v boundary %d.%d at %v: GCRA %v, rate.Limiter %v", lim, i, j, time.Duration(now), got, want)
				}
			}
		}
	}
}

// TestLimiterConcurrent: many goroutines on one Limiter at the same
// instants are admitted exactly as many times as there are tokens.
func TestLimiterConcurrent(t *testing.T) {
	const burst, workers, tries = 100, 8, 1000
	r := mustRate(t, Limit{Rate: 1000, Burst: burst}) // 1 ms per token
	var l Limiter
	run := func(now int64) int64 {
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range tries {
					if l.Allow(now, r) {
						admitted.Add(1)
					}
				}
			})
		}
		wg.Wait()
		return admitted.Load()
	}
	if n := run(0); n != burst {
		t.Fatalf("admitted %d at 0, want the burst %d", n, burst)
	}
	if n := run(37 * ms); n != 37 {
		t.Fatalf("admitted %d after 37 ms, want 37", n)
	}
}

func TestLimiterUndo(t *testing.T) {
	r := mustRate(t, Limit{Rate: 1, Burst: 2})
	var l Limiter
	l.Allow(0, r)
	l.Allow(0, r)
	if l.Allow(0, r) {
		t.Fatal("admitted past the burst")
	}
	l.undo(r)
	if !l.Allow(0, r) {
		t.Fatal("undo did not return the token")
	}
	if l.Allow(0, r) {
		t.Fatal("undo returned more than one token")
	}
}

// TestHotPathsDoNotAllocate guards the benchmarks' 0 allocs/op.
func TestHotPathsDoNotAllocate(t *testing.T) {
	r := mustRate(t, Limit{Rate: 10, Burst: 5})
	var l Limiter
	acct, _ := NewBucket(AWSDefault)
	s, _ := NewStage(StageOptions{Default: &AWSDefault, Keys: []string{"a"}, Account: acct})
	ips, _ := NewIPs(IPOptions{Handshakes: &AWSDefault, MaxConns: 10})
	ip := netip.MustParseAddr("2001:db8::1")
	n := 0
	for name, f := range map[string]func(){
		"Limiter.Allow":    func() { l.Allow(Now(), r) },
		"Stage.AllowRoute": func() { s.AllowRoute("a"); s.AllowRoute("unknown") },
		"IPs.Admit":        func() { ips.Admit(ip); ips.Release(ip) },
		"IPs.Admit new": func() {
			n++
			ip := netip.AddrFrom4([4]byte{10, 0, byte(n >> 8), byte(n)})
			ips.Admit(ip)
			ips.Release(ip)
		},
	} {
		if a := testing.AllocsPerRun(1000, f); a != 0 {
			t.Errorf("%s: %v allocations", name, a)
		}
	}
}

// TestLimiterNowFarInThePast: a now far before the origin (Nanos of a zero
// or pre-epoch time.Time saturates at math.MinInt64) must not overflow the
// GCRA comparison into admitting everything.
func TestLimiterNowFarInThePast(t *testing.T) {
	r := mustRate(t, Limit{Rate: 10, Burst: 2})
	var l Limiter
	admitted := 0
	for _, now := range []int64{Nanos(time.Time{}), math.MinInt64, math.MinInt64 + 1, -1 << 62} {
		for range 10 {
			if l.Allow(now, r) {
				admitted++
			}
		}
	}
	if admitted > 2 {
		t.Fatalf("admitted %d requests at instants far in the past, more than the burst of 2", admitted)
	}
	ips := newIPs(t, IPOptions{Handshakes: &Limit{Rate: 10, Burst: 2}, Now: func() int64 { return math.MinInt64 }})
	admitted = 0
	for range 10 {
		if ips.Admit(ipA) == Admitted {
			admitted++
		}
	}
	if admitted > 2 {
		t.Fatalf("IPs admitted %d handshakes at math.MinInt64, more than the burst of 2", admitted)
	}
}

// A state left by a stricter rate (before a reload) holds a connection
// back no longer than the new rate's own empty bucket would.
func TestLimiterLooserRateAfterStricter(t *testing.T) {
	strict := mustRate(t, Limit{Rate: 0.001, Burst: 2}) // one token per 1000 s
	loose := mustRate(t, Limit{Rate: 10, Burst: 2})     // one per 100 ms
	var l Limiter
	for i, want := range []bool{true, true, false} {
		if got := l.AllowSerial(0, strict); got != want {
			t.Fatalf("strict %d: %v", i, got)
		}
	}
	steps := []struct {
		at   int64
		want bool
	}{
		{1 * ms, false},   // the loose bucket, empty now
		{99 * ms, false},  // its interval has not passed
		{101 * ms, true},  // it has: not the strict 1000 s
		{102 * ms, false}, // and the loose rate holds from then on
		{201 * ms, true},
	}
	for i, s := range steps {
		if got := l.AllowSerial(s.at, loose); got != s.want {
			t.Fatalf("loose step %d at %v: Allow = %v, want %v", i, time.Duration(s.at), got, s.want)
		}
	}
}

// Allow, unlike AllowSerial, never gives tokens back: a caller whose clock
// reading is late (concurrent callers of a shared bucket) is refused
// without changing the state.
func TestLimiterAllowIgnoresLateReadings(t *testing.T) {
	r := mustRate(t, Limit{Rate: 1000, Burst: 1}) // one token per ms
	var l Limiter
	if !l.Allow(10*ms, r) {
		t.Fatal("first request refused")
	}
	admitted := 0
	for range 100 {
		if l.Allow(10*ms-2*ms, r) { // read 2 ms before the first
			admitted++
		}
		if l.Allow(10*ms, r) {
			admitted++
		}
	}
	if admitted != 0 {
		t.Errorf("%d requests admitted within the first one's millisecond, want 0", admitted)
	}
}

// Under one rate and a clock that never goes back, AllowSerial decides as
// Allow does.
func TestAllowSerialMatchesAllow(t *testing.T) {
	r := mustRate(t, Limit{Rate: 50, Burst: 4}) // one token per 20 ms
	var a, b Limiter
	now := int64(0)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 10000 {
		now += rng.Int64N(int64(30 * time.Millisecond))
		if x, y := a.Allow(now, r), b.AllowSerial(now, r); x != y {
			t.Fatalf("request %d at %v: Allow %v, AllowSerial %v", i, time.Duration(now), x, y)
		}
	}
}
