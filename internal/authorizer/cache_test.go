package authorizer

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// testClock is a clock that moves only when told to.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Unix(1700000000, 0)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func allowed(principal string) outcome { return outcome{result: &Result{PrincipalID: principal}} }

func principal(o outcome, ok bool) string {
	switch {
	case !ok:
		return "(miss)"
	case o.result == nil:
		return "(deny: " + o.denyReason + ")"
	}
	return o.result.PrincipalID
}

func TestCacheTTL(t *testing.T) {
	clock := newTestClock()
	c := newCache(time.Minute, 10, clock.Now)
	c.put("a", allowed("A"))
	c.put("d", outcome{denyReason: "no"})
	if got := principal(c.get("a")); got != "A" {
		t.Errorf("get(a) = %s", got)
	}
	if got := principal(c.get("d")); got != "(deny: no)" {
		t.Errorf("get(d) = %s", got)
	}
	if got := principal(c.get("b")); got != "(miss)" {
		t.Errorf("get(b) = %s", got)
	}
	clock.Advance(time.Minute - time.Nanosecond)
	if got := principal(c.get("a")); got != "A" {
		t.Errorf("just before expiry: get(a) = %s", got)
	}
	clock.Advance(time.Nanosecond)
	if got := principal(c.get("a")); got != "(miss)" {
		t.Errorf("at expiry: get(a) = %s", got)
	}
	if c.len() != 1 {
		t.Errorf("the expired entry read is still held: %d entries", c.len())
	}

	// put replaces, with a fresh time to live.
	c.put("a", allowed("A1"))
	clock.Advance(30 * time.Second)
	c.put("a", allowed("A2"))
	clock.Advance(45 * time.Second)
	if got := principal(c.get("a")); got != "A2" {
		t.Errorf("after a replacement: get(a) = %s", got)
	}
}

func TestCacheEviction(t *testing.T) {
	clock := newTestClock()
	c := newCache(time.Minute, 3, clock.Now)
	for _, k := range []string{"a", "b", "c"} {
		c.put(k, allowed(k))
		clock.Advance(time.Second)
	}
	c.put("d", allowed("d")) // full: the oldest, a, goes
	if got := principal(c.get("a")); got != "(miss)" {
		t.Errorf("a survived eviction: %s", got)
	}
	for _, k := range []string{"b", "c", "d"} {
		if got := principal(c.get(k)); got != k {
			t.Errorf("get(%s) = %s", k, got)
		}
	}
	c.put("b", allowed("b2")) // a replacement moves b to the back
	c.put("e", allowed("e"))  // so c is now the oldest
	if got := principal(c.get("c")); got != "(miss)" {
		t.Errorf("c survived eviction: %s", got)
	}
	if got := principal(c.get("b")); got != "b2" {
		t.Errorf("get(b) = %s", got)
	}
}

// TestCacheDropsExpired: a put drops every expired entry, not just the
// one it needs room for.
func TestCacheDropsExpired(t *testing.T) {
	clock := newTestClock()
	c := newCache(time.Minute, 3, clock.Now)
	for _, k := range []string{"x", "y", "z"} {
		c.put(k, allowed(k))
		clock.Advance(10 * time.Second)
	}
	clock.Advance(45 * time.Second) // now +75s: x (+60s) and y (+70s) have expired, z (+80s) has not
	c.put("w", allowed("w"))
	if n := c.len(); n != 2 {
		t.Errorf("%d entries after the put, want 2 (z and w)", n)
	}
	for k, want := range map[string]string{"x": "(miss)", "y": "(miss)", "z": "z", "w": "w"} {
		if got := principal(c.get(k)); got != want {
			t.Errorf("get(%s) = %s, want %s", k, got, want)
		}
	}
}

func TestCacheConcurrent(t *testing.T) {
	clock := newTestClock()
	c := newCache(time.Minute, 50, clock.Now)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := fmt.Sprint((g*7 + i) % 80)
				if o, ok := c.get(k); ok && o.result.PrincipalID != k {
					t.Errorf("get(%s) = %s", k, o.result.PrincipalID)
					return
				}
				c.put(k, allowed(k))
				if i%100 == 0 {
					clock.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	if n := c.len(); n > 50 {
		t.Errorf("%d entries, bound 50", n)
	}
}

func TestCacheKey(t *testing.T) {
	tuples := [][]string{
		nil, {""}, {"", ""}, {"a"}, {"a", ""}, {"", "a"}, {"a,b"}, {"a", "b"}, {"ab"},
		{"\x01a"}, {"\x01", "a"}, {"a\x00b"}, {"a", "\x00b"},
	}
	seen := map[string][]string{}
	for _, tp := range tuples {
		k := cacheKey(tp)
		if prev, dup := seen[k]; dup {
			t.Errorf("cacheKey(%q) == cacheKey(%q)", tp, prev)
		}
		seen[k] = tp
		if back := decodeCacheKey(t, k); !slices.Equal(back, tp) && len(tp) > 0 {
			t.Errorf("cacheKey(%q) decodes to %q", tp, back)
		}
	}
}

// decodeCacheKey inverts cacheKey, showing the encoding loses nothing.
func decodeCacheKey(t *testing.T, k string) []string {
	var out []string
	b := []byte(k)
	for len(b) > 0 {
		n, size := binary.Uvarint(b)
		if size <= 0 || uint64(len(b)-size) < n {
			t.Fatalf("bad key %q", k)
		}
		out = append(out, string(b[size:size+int(n)]))
		b = b[size+int(n):]
	}
	return out
}
