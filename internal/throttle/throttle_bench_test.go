package throttle

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// Run: go test -run '^$' -bench . -benchmem ./internal/throttle

func BenchmarkNow(b *testing.B) {
	var sink int64
	for b.Loop() {
		sink += Now()
	}
	_ = sink
}

// BenchmarkLimiterAllow is the per-connection check: admit (every call
// takes a token) and refuse (an empty bucket: a load, no CAS).
func BenchmarkLimiterAllow(b *testing.B) {
	r := mustRate(b, Limit{Rate: 100, Burst: 10})
	b.Run("admit", func(b *testing.B) {
		var l Limiter
		now := int64(0)
		for b.Loop() {
			now += r.interval
			if !l.Allow(now, r) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("refuse", func(b *testing.B) {
		var l Limiter
		for range 10 {
			l.Allow(0, r)
		}
		for b.Loop() {
			if l.Allow(0, r) {
				b.Fatal("admitted")
			}
		}
	})
}

// BenchmarkRateLimiterAllow is x/time/rate for comparison.
func BenchmarkRateLimiterAllow(b *testing.B) {
	base := time.Now()
	b.Run("admit", func(b *testing.B) {
		l := rate.NewLimiter(100, 10)
		now := base
		for b.Loop() {
			now = now.Add(10 * time.Millisecond)
			if !l.AllowN(now, 1) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("refuse", func(b *testing.B) {
		l := rate.NewLimiter(100, 10)
		l.AllowN(base, 10)
		for b.Loop() {
			if l.AllowN(base, 1) {
				b.Fatal("admitted")
			}
		}
	})
}

func benchStage(b *testing.B, account *Bucket, l Limit) *Stage {
	keys := []string{"$connect", "$disconnect", "$default", "sendMessage", "join", "leave", "typing", "history"}
	s, err := NewStage(StageOptions{Default: &l, Keys: keys, Account: account})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkStageAllowRoute is the per-message route check on one
// goroutine, with the clock read inside (AllowRoute) and without
// (AllowRouteAt, Route handle).
func BenchmarkStageAllowRoute(b *testing.B) {
	fast := Limit{Rate: 2e8, Burst: 1e6} // admits every call
	b.Run("AllowRoute", func(b *testing.B) {
		s := benchStage(b, nil, fast)
		for b.Loop() {
			if !s.AllowRoute("sendMessage") {
				b.Fatal("refused")
			}
		}
	})
	b.Run("AllowRouteAt", func(b *testing.B) {
		s := benchStage(b, nil, fast)
		now := Now()
		for b.Loop() {
			if !s.AllowRouteAt("sendMessage", now) {
				b.Fatal("refused")
			}
			now += 5
		}
	})
	b.Run("Route.AllowAt", func(b *testing.B) {
		r := benchStage(b, nil, fast).Route("sendMessage")
		now := Now()
		for b.Loop() {
			if !r.AllowAt(now) {
				b.Fatal("refused")
			}
			now += 5
		}
	})
	b.Run("AllowRoute+account", func(b *testing.B) {
		acct, _ := NewBucket(fast)
		s := benchStage(b, acct, fast)
		for b.Loop() {
			if !s.AllowRoute("sendMessage") {
				b.Fatal("refused")
			}
		}
	})
}

// BenchmarkStageAllowRouteParallel: every goroutine on one hot route.
// admit: a limit no one reaches, so every call does a CAS on the route's
// TAT (the contended case); refuse: a spent bucket, every call a load.
func BenchmarkStageAllowRouteParallel(b *testing.B) {
	for _, tc := range []struct {
		name    string
		l       Limit
		account bool
		want    bool
	}{
		{"admit", Limit{Rate: 2e9, Burst: 1 << 30}, false, true},
		{"admit+account", Limit{Rate: 2e9, Burst: 1 << 30}, true, true},
		{"refuse", Limit{Rate: 1e-3, Burst: 1}, false, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var acct *Bucket
			if tc.account {
				acct, _ = NewBucket(tc.l)
			}
			s := benchStage(b, acct, tc.l)
			s.AllowRoute("sendMessage")
			var wrong atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if s.AllowRoute("sendMessage") != tc.want {
						wrong.Add(1)
					}
				}
			})
			if wrong.Load() != 0 {
				b.Fatalf("%d unexpected decisions", wrong.Load())
			}
		})
	}
}

// BenchmarkRateLimiterParallel is x/time/rate on one hot limiter, for
// comparison with BenchmarkStageAllowRouteParallel/admit.
func BenchmarkRateLimiterParallel(b *testing.B) {
	l := rate.NewLimiter(rate.Limit(2e9), 1<<30)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow()
		}
	})
}

// BenchmarkIPsAdmitRelease is the per-handshake check: Admit and Release of
// one connection, for a tracked IP (its entry stays: another connection is
// open) and for a new IP each time (insert and delete).
func BenchmarkIPsAdmitRelease(b *testing.B) {
	o := IPOptions{Handshakes: &Limit{Rate: 2e9, Burst: 1 << 30}, MaxConns: 1 << 20}
	b.Run("tracked", func(b *testing.B) {
		ips, _ := NewIPs(o)
		ips.Admit(ipA)
		for b.Loop() {
			if ips.Admit(ipA) != Admitted {
				b.Fatal("refused")
			}
			ips.Release(ipA)
		}
	})
	b.Run("new", func(b *testing.B) {
		o := o
		o.Handshakes = nil
		ips, _ := NewIPs(o)
		i := 0
		for b.Loop() {
			ip := nthIP(i & 0xffffff)
			i++
			if ips.Admit(ip) != Admitted {
				b.Fatal("refused")
			}
			ips.Release(ip)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		ips, _ := NewIPs(o)
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			base := int(n.Add(1)) << 12
			i := 0
			for pb.Next() {
				ip := nthIP(base + i&0xfff)
				i++
				if ips.Admit(ip) != Admitted {
					b.Error("refused")
					return
				}
				ips.Release(ip)
			}
		})
	})
}

// BenchmarkIPsTrackedMemory reports the heap per tracked IP (B/ip) with n
// IPs each holding a connection. The maps grow by doubling, so the figure
// moves with n between a just-grown and a nearly full table.
func BenchmarkIPsTrackedMemory(b *testing.B) {
	for _, n := range []int{1 << 16, 600_000, 900_000, 1 << 20} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var perIP float64
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				ips, _ := NewIPs(IPOptions{MaxConns: 10, MaxTracked: n})
				for i := range n {
					ips.AdmitAt(nthIP(i), 0)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				if ips.Len() != n {
					b.Fatalf("%d tracked", ips.Len())
				}
				perIP = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
				runtime.KeepAlive(ips)
			}
			b.ReportMetric(perIP, "B/ip")
		})
	}
}
