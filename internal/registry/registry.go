// Package registry maps connection ids to live connections and mints the
// ids. The map is sharded so that lookups from the @connections API and
// registrations from handshakes rarely contend.
package registry

import (
	"hash/maphash"
	"sync"
)

const shardCount = 64

// Registry is a concurrent map from connection id to V.
type Registry[V any] struct {
	seed   maphash.Seed
	shards [shardCount]shard[V]
}

type shard[V any] struct {
	mu sync.RWMutex
	m  map[string]V
}

// New returns an empty registry.
func New[V any]() *Registry[V] {
	r := &Registry[V]{seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].m = make(map[string]V)
	}
	return r
}

func (r *Registry[V]) shard(id string) *shard[V] {
	return &r.shards[maphash.String(r.seed, id)%shardCount]
}

// Add registers v under id, replacing any previous entry.
func (r *Registry[V]) Add(id string, v V) {
	s := r.shard(id)
	s.mu.Lock()
	s.m[id] = v
	s.mu.Unlock()
}

// Get returns the entry for id.
func (r *Registry[V]) Get(id string) (V, bool) {
	s := r.shard(id)
	s.mu.RLock()
	v, ok := s.m[id]
	s.mu.RUnlock()
	return v, ok
}

// Remove deletes id.
func (r *Registry[V]) Remove(id string) {
	s := r.shard(id)
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

// Len returns the number of entries.
func (r *Registry[V]) Len() int {
	n := 0
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// Snapshot returns every entry at one moment per shard; the caller may act
// on them without holding any lock.
func (r *Registry[V]) Snapshot() []V {
	out := make([]V, 0, r.Len())
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.RLock()
		for _, v := range s.m {
			out = append(out, v)
		}
		s.mu.RUnlock()
	}
	return out
}
