package registry

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"
)

// idShape is API Gateway's: 15 URL-safe base64 characters and "=".
var idShape = regexp.MustCompile(`^[A-Za-z0-9_-]{15}=$`)

func TestIDShapeAndUniqueness(t *testing.T) {
	g := NewIDs()
	seen := make(map[string]bool, 100000)
	for range 100000 {
		id := g.New()
		if !idShape.MatchString(id) {
			t.Fatalf("id %q has the wrong shape", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
	// Another generator (another process, or this one restarted) in the
	// same second differs by node id.
	other := NewIDs()
	for range 1000 {
		if id := other.New(); seen[id] {
			t.Fatalf("generators collided on %q", id)
		}
	}
}

// NewPair's ids are as unique as New's, with each other and with New's
// from the same generator, and carry the time they were given.
func TestNewPair(t *testing.T) {
	g := NewIDs()
	seen := make(map[string]bool, 30000)
	add := func(id string) {
		t.Helper()
		if !idShape.MatchString(id) {
			t.Fatalf("id %q has the wrong shape", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
	now := time.Now()
	for range 10000 {
		a, b := g.NewPair(now)
		add(a)
		add(b)
		add(g.New())
	}
	a, b := g.NewPair(time.Unix(1700000000, 0))
	for _, id := range []string{a, b} {
		raw, err := base64.URLEncoding.DecodeString(id)
		if err != nil || len(raw) != 11 {
			t.Fatalf("id %q decodes to %x, %v", id, raw, err)
		}
		if sec := binary.BigEndian.Uint32(raw[:4]); sec != 1700000000 {
			t.Errorf("id %q says second %d, want 1700000000", id, sec)
		}
	}
}

func TestRegistryConcurrent(t *testing.T) {
	r := New[int]()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				id := fmt.Sprintf("%d-%d", w, i)
				r.Add(id, i)
				if v, ok := r.Get(id); !ok || v != i {
					t.Errorf("Get(%s) = %d, %v", id, v, ok)
				}
				if i%2 == 0 {
					r.Remove(id)
				}
			}
		}()
	}
	wg.Wait()
	if n := r.Len(); n != 8*500 {
		t.Errorf("Len = %d, want %d", n, 8*500)
	}
	if n := len(r.Snapshot()); n != 8*500 {
		t.Errorf("Snapshot has %d entries", n)
	}
}
