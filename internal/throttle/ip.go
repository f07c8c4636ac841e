package throttle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Reason is the outcome of [IPs.Admit].
type Reason uint8

// Outcomes of [IPs.Admit]. The caller answers every refusal as a throttled
// handshake: 429, as API Gateway does.
const (
	// Admitted: the handshake may go ahead; the connection is counted
	// until Release.
	Admitted Reason = iota
	// HandshakeRate: the IP opened connections faster than its
	// handshake rate allows.
	HandshakeRate
	// ConnLimit: the IP already holds its maximum of connections.
	ConnLimit
	// TableFull: the IP is not tracked and the table of tracked IPs is at
	// its cap.
	TableFull
)

var reasonNames = [...]string{"admitted", "handshake rate", "connections per IP", "IP table full"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", r)
}

// DefaultMaxTracked is IPOptions.MaxTracked's default.
const DefaultMaxTracked = 1 << 20

// fullSweepEvery is how often, at most, a full table is swept for idle
// entries before an unknown IP is refused. Sweeping costs time linear in the
// table, so under a flood of new IPs it must not run per handshake.
const fullSweepEvery = int64(time.Second)

// sampleOnInsert is how many entries of its shard an insertion (or an
// insertion refused for a full table) examines, deleting those that are
// idle, so that entries left behind when their bucket was not yet full go
// away without a sweeper.
const sampleOnInsert = 2

// IPOptions configures [IPs]. A zero field does not limit.
type IPOptions struct {
	// Handshakes is the rate and burst of new connections (handshakes) per
	// IP. nil: not limited.
	Handshakes *Limit
	// MaxConns is the maximum of connections per IP, counting handshakes
	// in progress. 0: not limited.
	MaxConns int
	// MaxTracked caps the number of IPs tracked at once, and so the
	// memory; 0: [DefaultMaxTracked]. An IP is tracked while it holds a
	// connection or its handshake bucket is not full, so the cap should be
	// at least the gateway's maximum of connections plus the handshakes it
	// accepts during the time a bucket takes to refill (burst ÷ rate).
	MaxTracked int
	// IPv6Prefix is how many leading bits of an IPv6 address identify a
	// client; 0: 64, the size of the subnet one host usually gets, so a
	// client cannot escape its limits by changing address within it. 128
	// counts each address on its own. IPv4 addresses (and IPv4-mapped IPv6
	// ones) always count on their own.
	IPv6Prefix int
	// Now is the clock (nanoseconds, see [Now]); nil: [Now].
	Now func() int64
}

// IPs limits new connections per source IP: their rate, and how many are
// open at once. It is safe for concurrent use.
//
// Memory is bounded. An entry is deleted once it is idle (no connection
// counted and a full handshake bucket): by the Release that leaves it idle,
// or later when an insertion into its shard samples it, when a full table
// is swept (at most once a second), or by [IPs.Sweep]. The number of
// entries never exceeds MaxTracked. When the table is full, an IP it does
// not track is refused with TableFull (fail-closed): failing open would
// turn every limit off for exactly the flood that filled the table, and
// would admit connections whose Release had no entry to decrement. IPs
// already tracked are served as usual.
//
// An invalid netip.Addr (no IP, as behind a Unix socket) is neither limited
// nor tracked. The zone of an IPv6 address is ignored. A nil *IPs admits
// everything.
type IPs struct {
	rate     Rate
	limited  bool // rate limits
	maxConns int32
	maxTotal int64
	v6mask   [16]byte
	now      func() int64
	seed0    uint64
	seed1    uint64

	total     atomic.Int64 // entries in all shards
	lastSweep atomic.Int64 // last full sweep (now), 0: never
	_         [64]byte

	shards [ipShards]ipShard
}

const ipShards = 64

type ipShard struct {
	mu sync.Mutex
	m  map[ipKey]ipEntry
	_  [64 - 16]byte
}

// ipKey is an address as 16 bytes (IPv4 as IPv4-mapped IPv6), masked to
// the IPv6 prefix. Unlike netip.Addr it holds no pointer, so the garbage
// collector never scans the maps.
type ipKey [16]byte

type ipEntry struct {
	tat   int64 // handshake GCRA state
	conns int32
}

// NewIPs returns the per-IP limits o describes, or nil (which admits
// everything) if o limits nothing.
func NewIPs(o IPOptions) (*IPs, error) {
	if o.MaxConns < 0 {
		return nil, errors.New("throttle: per-IP maximum of connections must be ≥ 0")
	}
	if o.MaxTracked < 0 {
		return nil, errors.New("throttle: maximum of tracked IPs must be ≥ 0")
	}
	if o.IPv6Prefix < 0 || o.IPv6Prefix > 128 {
		return nil, fmt.Errorf("throttle: IPv6 prefix /%d: must be 0 to 128", o.IPv6Prefix)
	}
	t := &IPs{maxTotal: int64(o.MaxTracked), now: o.Now, seed0: rand.Uint64(), seed1: rand.Uint64()}
	if o.Handshakes != nil {
		r, err := NewRate(*o.Handshakes)
		if err != nil {
			return nil, fmt.Errorf("handshakes per IP: %w", err)
		}
		t.rate, t.limited = r, !r.Unlimited()
	}
	if o.MaxConns > 0 {
		t.maxConns = int32(min(o.MaxConns, 1<<31-1))
	}
	if !t.limited && t.maxConns == 0 {
		return nil, nil
	}
	if t.maxTotal == 0 {
		t.maxTotal = DefaultMaxTracked
	}
	if t.now == nil {
		t.now = Now
	}
	bits := o.IPv6Prefix
	if bits == 0 {
		bits = 64
	}
	for i := range t.v6mask {
		n := min(max(bits-8*i, 0), 8)
		t.v6mask[i] = byte(0xff << (8 - n))
	}
	for i := range t.shards {
		t.shards[i].m = make(map[ipKey]ipEntry)
	}
	return t, nil
}

// key returns the table key of ip, and false for an invalid Addr.
func (t *IPs) key(ip netip.Addr) (ipKey, bool) {
	if !ip.IsValid() {
		return ipKey{}, false
	}
	ip = ip.Unmap()
	k := ipKey(ip.As16())
	if ip.Is6() {
		for i := range k {
			k[i] &= t.v6mask[i]
		}
	}
	return k, true
}

// shard returns the shard of k, by a seeded hash whose every output bit
// depends on every input bit, so that addresses differing in any byte
// spread over the shards.
func (t *IPs) shard(k *ipKey) *ipShard {
	h := fmix64(binary.LittleEndian.Uint64(k[:8]) ^ t.seed0)
	h = fmix64(h ^ binary.LittleEndian.Uint64(k[8:]) ^ t.seed1)
	return &t.shards[h&(ipShards-1)]
}

// fmix64 is MurmurHash3's 64-bit finalizer.
func fmix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// idle reports whether e can be deleted at now: nothing counted and a full
// bucket.
func (e ipEntry) idle(now int64) bool { return e.conns == 0 && e.tat <= now }

// Admit decides whether a new connection from ip may be accepted now. If it
// returns Admitted the connection is counted against ip until the caller
// calls [IPs.Release] for it, exactly once, whether the handshake then
// fails or the connection ends. A refusal takes no token: only admitted
// handshakes count towards the rate.
func (t *IPs) Admit(ip netip.Addr) Reason {
	if t == nil {
		return Admitted
	}
	return t.AdmitAt(ip, t.now())
}

// AdmitAt is Admit at a time the caller has read (see [Nanos]).
func (t *IPs) AdmitAt(ip netip.Addr, now int64) Reason {
	if t == nil {
		return Admitted
	}
	k, ok := t.key(ip)
	if !ok {
		return Admitted
	}
	s := t.shard(&k)
	for attempt := 0; ; attempt++ {
		s.mu.Lock()
		e, found := s.m[k]
		if !found && !t.reserve() {
			// Full: look for idle entries in this shard (cheap), then in
			// the whole table (at most once per fullSweepEvery).
			if t.sampleLocked(s, now) == 0 || !t.reserve() {
				s.mu.Unlock()
				if attempt == 0 && t.sweepFull(now) {
					continue
				}
				return TableFull
			}
		}
		r := t.admitLocked(s, k, e, found, now)
		s.mu.Unlock()
		return r
	}
}

// admitLocked decides for an entry e (found, or new with its place in the
// table reserved) under s.mu.
func (t *IPs) admitLocked(s *ipShard, k ipKey, e ipEntry, found bool, now int64) Reason {
	if t.maxConns > 0 && e.conns >= t.maxConns {
		return ConnLimit // only a found entry can be at the maximum
	}
	if t.limited {
		next, ok := t.rate.next(e.tat, now)
		if !ok {
			if !found {
				t.total.Add(-1) // a new entry: only a rate that admits nothing refuses it
			}
			return HandshakeRate
		}
		e.tat = next
	}
	e.conns++
	if !found {
		t.sampleLocked(s, now)
	}
	s.m[k] = e
	return Admitted
}

// reserve takes a place for a new entry, or reports that the table is full.
func (t *IPs) reserve() bool {
	for {
		n := t.total.Load()
		if n >= t.maxTotal {
			return false
		}
		if t.total.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// sampleLocked examines a few entries of s, starting at a random one (map
// iteration order), deletes those that are idle and returns how many it
// deleted.
func (t *IPs) sampleLocked(s *ipShard, now int64) int {
	seen, deleted := 0, 0
	for k, e := range s.m {
		if e.idle(now) {
			delete(s.m, k)
			deleted++
		}
		if seen++; seen == sampleOnInsert {
			break
		}
	}
	t.total.Add(int64(-deleted))
	return deleted
}

// sweepFull sweeps the whole table if no sweep ran in the last
// fullSweepEvery, and reports whether it did (and freed something).
func (t *IPs) sweepFull(now int64) bool {
	last := t.lastSweep.Load()
	if last != 0 && now-last < fullSweepEvery {
		return false
	}
	if !t.lastSweep.CompareAndSwap(last, max(now, 1)) {
		return false // someone else is sweeping
	}
	return t.SweepAt(now) > 0
}

// Release ends the count of one connection from ip that [IPs.Admit]
// admitted. A Release with no matching Admit is ignored only when nothing is
// counted for ip (or its IPv6 prefix); otherwise it ends the count of
// another of its connections, so pair them exactly.
func (t *IPs) Release(ip netip.Addr) {
	if t == nil {
		return
	}
	t.ReleaseAt(ip, t.now())
}

// ReleaseAt is Release at a time the caller has read (see [Nanos]).
func (t *IPs) ReleaseAt(ip netip.Addr, now int64) {
	if t == nil {
		return
	}
	k, ok := t.key(ip)
	if !ok {
		return
	}
	s := t.shard(&k)
	s.mu.Lock()
	if e, found := s.m[k]; found && e.conns > 0 {
		e.conns--
		if e.idle(now) {
			delete(s.m, k)
			t.total.Add(-1)
		} else {
			s.m[k] = e
		}
	}
	s.mu.Unlock()
}

// Sweep deletes every idle entry and returns how many it deleted. The table
// stays bounded without it; calling it now and then (say every minute)
// returns the memory of IPs that left sooner.
func (t *IPs) Sweep() int {
	if t == nil {
		return 0
	}
	return t.SweepAt(t.now())
}

// SweepAt is Sweep at a time the caller has read.
func (t *IPs) SweepAt(now int64) int {
	if t == nil {
		return 0
	}
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if e.idle(now) {
				delete(s.m, k)
				n++
			}
		}
		s.mu.Unlock()
	}
	t.total.Add(int64(-n))
	return n
}

// Len returns the number of IPs tracked.
func (t *IPs) Len() int {
	if t == nil {
		return 0
	}
	return int(t.total.Load())
}

// Conns returns the number of connections counted for ip.
func (t *IPs) Conns(ip netip.Addr) int {
	if t == nil {
		return 0
	}
	k, ok := t.key(ip)
	if !ok {
		return 0
	}
	s := t.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.m[k].conns)
}
