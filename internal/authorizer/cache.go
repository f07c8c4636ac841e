package authorizer

import (
	"container/list"
	"encoding/binary"
	"sync"
	"time"
)

// cache remembers Allow and Deny outcomes by identity-source values for a
// fixed time to live. It holds at most max entries: when full, expired
// entries go first, then the oldest. Every entry lives equally long, so
// insertion order is expiry order, and the oldest entry is also the one
// closest to expiring anyway. Safe for concurrent use.
type cache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*list.Element // of *cacheEntry
	order   *list.List               // oldest first
}

type cacheEntry struct {
	key     string
	expires time.Time
	outcome outcome
}

func newCache(ttl time.Duration, maxEntries int, now func() time.Time) *cache {
	return &cache{
		ttl: ttl, max: maxEntries, now: now,
		entries: make(map[string]*list.Element),
		order:   list.New(),
	}
}

// get returns the outcome stored under key, unless there is none or it
// has expired.
func (c *cache) get(key string) (outcome, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return outcome{}, false
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) {
		c.remove(el)
		return outcome{}, false
	}
	return e.outcome, true
}

// put stores o under key for the time to live, replacing what key held.
func (c *cache) put(key string, o outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
	for c.order.Len() > 0 {
		oldest := c.order.Front()
		if c.order.Len() < c.max && now.Before(oldest.Value.(*cacheEntry).expires) {
			break
		}
		c.remove(oldest) // expired, or room is needed
	}
	c.entries[key] = c.order.PushBack(&cacheEntry{key: key, expires: now.Add(c.ttl), outcome: o})
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

func (c *cache) remove(el *list.Element) {
	delete(c.entries, el.Value.(*cacheEntry).key)
	c.order.Remove(el)
}

// cacheKey encodes identity-source values unambiguously: each value is
// preceded by its length, so ["a,b"] and ["a", "b"] differ.
func cacheKey(values []string) string {
	n := 0
	for _, v := range values {
		n += binary.MaxVarintLen64 + len(v)
	}
	b := make([]byte, 0, n)
	for _, v := range values {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return string(b)
}
