package throttle

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// clock is a settable clock for tests.
type clock struct{ t atomic.Int64 }

func (c *clock) now() int64       { return c.t.Load() }
func (c *clock) advance(d int64)  { c.t.Add(d) }
func (c *clock) set(to int64)     { c.t.Store(to) }
func lim(r float64, b int) *Limit { return &Limit{Rate: r, Burst: b} }

// count returns how many of n requests to key are admitted at the
// stage's current time.
func count(s *Stage, key string, n int) int {
	a := 0
	for range n {
		if s.AllowRoute(key) {
			a++
		}
	}
	return a
}

func TestStageRouteOverridesDefault(t *testing.T) {
	var c clock
	s, err := NewStage(StageOptions{
		Default: lim(1, 2),
		Routes:  map[string]Limit{"hot": {Rate: 10, Burst: 5}, "unlisted": {Rate: 1, Burst: 1}},
		Keys:    []string{"$connect", "$default", "a", "b", "hot"},
		Now:     c.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"hot", 5},      // its own setting
		{"a", 2},        // the default
		{"b", 2},        // the default again, in a bucket of its own
		{"$default", 2}, // predefined routes are routes like any other
		{"unlisted", 1}, // in Routes but not in Keys
		{"x", 2},        // unknown keys share one fallback bucket
		{"y", 0},
	} {
		if got := count(s, tc.key, 10); got != tc.want {
			t.Errorf("%s: admitted %d of 10, want %d", tc.key, got, tc.want)
		}
	}
	c.advance(1e9) // hot refills fully (10/s), the others by one
	for key, want := range map[string]int{"hot": 5, "a": 1, "b": 1, "x": 1, "unlisted": 1} {
		if got := count(s, key, 10); got != want {
			t.Errorf("after 1 s, %s: admitted %d of 10, want %d", key, got, want)
		}
	}
	if ra := s.Route("a"); ra != s.Route("a") || ra == s.Route("b") || s.Route("x") != s.Route("y") {
		t.Error("Route handles are not stable per key")
	}
}

func TestStageWithoutDefault(t *testing.T) {
	s, err := NewStage(StageOptions{Routes: map[string]Limit{"limited": {Rate: 1, Burst: 1}}, Keys: []string{"free"}, Now: func() int64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	if got := count(s, "free", 1000); got != 1000 {
		t.Errorf("route without settings: admitted %d of 1000", got)
	}
	if got := count(s, "unknown", 1000); got != 1000 {
		t.Errorf("unknown route without a default: admitted %d of 1000", got)
	}
	if got := count(s, "limited", 1000); got != 1 {
		t.Errorf("limited route: admitted %d, want 1", got)
	}
}

func TestStageClosedRoute(t *testing.T) {
	s, err := NewStage(StageOptions{Default: &AWSDefault, Routes: map[string]Limit{"off": {}}, Now: func() int64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	if count(s, "off", 10) != 0 {
		t.Error("a route throttled to 0 admitted a request")
	}
}

func TestStageAccountShared(t *testing.T) {
	var c clock
	acct, err := NewBucket(Limit{Rate: 1, Burst: 3})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStage(StageOptions{Default: lim(1000, 100), Keys: []string{"a", "b"}, Account: acct, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	if got := count(s, "a", 2) + count(s, "b", 10) + count(s, "zz", 10); got != 3 {
		t.Fatalf("routes together admitted %d, want the account's burst 3", got)
	}
	// A second stage charged to the same account bucket.
	s2, err := NewStage(StageOptions{Keys: []string{"a"}, Account: acct, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	if count(s2, "a", 10) != 0 {
		t.Fatal("a stage sharing the account bucket got more than the account allows")
	}
}

// TestStageAccountRefund: a request the account refuses does not cost the
// route a token.
func TestStageAccountRefund(t *testing.T) {
	var c clock
	acct, _ := NewBucket(Limit{Rate: 1, Burst: 1})
	s, err := NewStage(StageOptions{
		Routes:  map[string]Limit{"r": {Rate: 0.01, Burst: 2}}, // refills once per 100 s
		Account: acct,
		Now:     c.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !s.AllowRoute("r") {
		t.Fatal("first request refused")
	}
	for range 5 {
		if s.AllowRoute("r") {
			t.Fatal("admitted past the account's burst")
		}
	}
	c.advance(1e9) // the account refills; the route has not, but got its tokens back
	if !s.AllowRoute("r") {
		t.Fatal("the route's token was not returned when the account refused")
	}
	c.advance(1e9)
	if s.AllowRoute("r") {
		t.Fatal("the route admitted more than its burst")
	}
}

func TestStagePreviousKeepsState(t *testing.T) {
	var c clock
	o := StageOptions{Default: lim(1, 2), Routes: map[string]Limit{"r": {Rate: 1, Burst: 3}}, Keys: []string{"a", "b"}, Now: c.now}
	s1, err := NewStage(o)
	if err != nil {
		t.Fatal(err)
	}
	count(s1, "a", 10)
	count(s1, "r", 10)
	count(s1, "zz", 10)
	o.Previous = s1
	o.Routes = map[string]Limit{"r": {Rate: 1, Burst: 4}} // changed: starts afresh
	s2, err := NewStage(o)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{"a": 0, "zz": 0, "b": 2, "r": 4} {
		if got := count(s2, key, 10); got != want {
			t.Errorf("after reload, %s: admitted %d, want %d", key, got, want)
		}
	}
}

func TestStageErrors(t *testing.T) {
	_, err := NewStage(StageOptions{Routes: map[string]Limit{"sendMessage": {Rate: -1, Burst: 1}}})
	if err == nil || !strings.Contains(err.Error(), `"sendMessage"`) {
		t.Errorf("bad route limit: err = %v", err)
	}
	_, err = NewStage(StageOptions{Default: lim(1, -1)})
	if err == nil || !strings.Contains(err.Error(), "default") {
		t.Errorf("bad default: err = %v", err)
	}
}

// TestStageConcurrent: concurrent requests to one route and to the account
// are admitted exactly as many times as there are tokens.
func TestStageConcurrent(t *testing.T) {
	var c clock
	acct, _ := NewBucket(Limit{Rate: 1, Burst: 150})
	s, err := NewStage(StageOptions{Default: lim(1, 100), Keys: []string{"a", "b"}, Account: acct, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	var a, b atomic.Int64
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			key, n := "a", &a
			if i%2 == 1 {
				key, n = "b", &b
			}
			for range 1000 {
				if s.AllowRoute(key) {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if a.Load() > 100 || b.Load() > 100 || a.Load()+b.Load() != 150 {
		t.Fatalf("admitted a=%d b=%d, want each ≤ 100 and 150 together", a.Load(), b.Load())
	}
}
