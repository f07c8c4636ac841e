package throttle

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
)

func newIPs(t *testing.T, o IPOptions) *IPs {
	t.Helper()
	ips, err := NewIPs(o)
	if err != nil {
		t.Fatal(err)
	}
	if ips == nil {
		t.Fatal("NewIPs returned nil")
	}
	return ips
}

var (
	ipA = netip.MustParseAddr("192.0.2.1")
	ipB = netip.MustParseAddr("192.0.2.2")
	ipC = netip.MustParseAddr("192.0.2.3")
)

// nthIP returns a distinct IPv4 address per n.
func nthIP(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

func TestIPsHandshakeRate(t *testing.T) {
	var c clock
	ips := newIPs(t, IPOptions{Handshakes: lim(1, 2), Now: c.now})
	admitAndRelease := func(ip netip.Addr) Reason {
		r := ips.Admit(ip)
		if r == Admitted {
			ips.Release(ip)
		}
		return r
	}
	for i, want := range []Reason{Admitted, Admitted, HandshakeRate, HandshakeRate} {
		if got := admitAndRelease(ipA); got != want {
			t.Fatalf("A #%d: %v, want %v", i, got, want)
		}
	}
	if got := admitAndRelease(ipB); got != Admitted {
		t.Fatalf("B shares A's bucket: %v", got)
	}
	c.advance(1e9)
	if got := admitAndRelease(ipA); got != Admitted {
		t.Fatalf("A after 1 s: %v", got)
	}
	if got := admitAndRelease(ipA); got != HandshakeRate {
		t.Fatalf("A after 1 s, second: %v", got)
	}
}

func TestIPsConnCount(t *testing.T) {
	var c clock
	ips := newIPs(t, IPOptions{MaxConns: 2, Now: c.now})
	for i, want := range []Reason{Admitted, Admitted, ConnLimit, ConnLimit} {
		if got := ips.Admit(ipA); got != want {
			t.Fatalf("A #%d: %v, want %v", i, got, want)
		}
	}
	if ips.Conns(ipA) != 2 {
		t.Fatalf("A counts %d connections, want 2", ips.Conns(ipA))
	}
	if got := ips.Admit(ipB); got != Admitted {
		t.Fatalf("B: %v", got)
	}
	ips.Release(ipA)
	if got := ips.Admit(ipA); got != Admitted {
		t.Fatalf("A after a release: %v", got)
	}
	ips.Release(ipA)
	ips.Release(ipA)
	ips.Release(ipA) // unmatched: ignored
	ips.Release(ipC) // never admitted: ignored
	if ips.Conns(ipA) != 0 || ips.Len() != 1 {
		t.Fatalf("after releasing A: A counts %d, %d IPs tracked, want 0 and 1 (B)", ips.Conns(ipA), ips.Len())
	}
	for range 2 {
		if got := ips.Admit(ipA); got != Admitted {
			t.Fatalf("A after releasing all: %v", got)
		}
	}
}

// TestIPsRefusalTakesNoToken: handshakes refused for the count do not use
// up the rate.
func TestIPsRefusalTakesNoToken(t *testing.T) {
	var c clock
	ips := newIPs(t, IPOptions{Handshakes: lim(1, 3), MaxConns: 1, Now: c.now})
	if ips.Admit(ipA) != Admitted {
		t.Fatal("first refused")
	}
	for range 10 {
		if got := ips.Admit(ipA); got != ConnLimit {
			t.Fatalf("second while the first is open: %v", got)
		}
	}
	for i := range 2 {
		ips.Release(ipA)
		if got := ips.Admit(ipA); got != Admitted {
			t.Fatalf("token %d: %v", i+2, got)
		}
	}
	ips.Release(ipA)
	if got := ips.Admit(ipA); got != HandshakeRate {
		t.Fatalf("past the burst: %v", got)
	}
}

func TestIPsAddressGrouping(t *testing.T) {
	for _, tc := range []struct {
		prefix     int
		a, b       string
		sameBucket bool
	}{
		{0, "2001:db8::1", "2001:db8::2", true},                     // same /64
		{0, "2001:db8::1", "2001:db8:0:1::1", false},                // next /64
		{0, "2001:db8::1%eth0", "2001:db8::1", true},                // zone ignored
		{128, "2001:db8::1", "2001:db8::2", false},                  // per address
		{48, "2001:db8:0:1::1", "2001:db8:0:2::1", true},            // same /48
		{0, "::ffff:192.0.2.1", "192.0.2.1", true},                  // IPv4-mapped is IPv4
		{0, "192.0.2.1", "192.0.2.2", false},                        // IPv4 per address
		{0, "::ffff:192.0.2.1", "::ffff:192.0.2.2", false},          // even mapped
		{0, "::c000:201", "192.0.2.1", false},                       // IPv4-compatible is IPv6
		{0, "2001:db8:ffff:ffff:1::", "2001:db8:ffff:ffff::", true}, // host bits only differ
	} {
		ips := newIPs(t, IPOptions{MaxConns: 1, IPv6Prefix: tc.prefix, Now: func() int64 { return 0 }})
		a, b := netip.MustParseAddr(tc.a), netip.MustParseAddr(tc.b)
		if ips.Admit(a) != Admitted {
			t.Fatalf("%s refused", a)
		}
		if got := ips.Admit(b) == ConnLimit; got != tc.sameBucket {
			t.Errorf("/%d: %s and %s counted together = %v, want %v", tc.prefix, a, b, got, tc.sameBucket)
		}
	}
}

func TestIPsInvalidAddrNotLimited(t *testing.T) {
	ips := newIPs(t, IPOptions{MaxConns: 1, Handshakes: lim(1, 1)})
	for range 10 {
		if got := ips.Admit(netip.Addr{}); got != Admitted {
			t.Fatalf("invalid Addr: %v", got)
		}
	}
	ips.Release(netip.Addr{})
	if ips.Len() != 0 {
		t.Fatalf("invalid Addr tracked: %d entries", ips.Len())
	}
}

func TestIPsNothingToLimit(t *testing.T) {
	ips, err := NewIPs(IPOptions{MaxTracked: 10, Handshakes: &Limit{Rate: 1e12, Burst: 0}})
	if err != nil || ips != nil {
		t.Fatalf("NewIPs without a limit = %v, %v; want nil, nil", ips, err)
	}
	if ips.Admit(ipA) != Admitted || ips.Len() != 0 || ips.Sweep() != 0 || ips.Conns(ipA) != 0 {
		t.Fatal("a nil *IPs must admit everything and track nothing")
	}
	ips.Release(ipA)
	for _, o := range []IPOptions{{MaxConns: -1}, {MaxConns: 1, MaxTracked: -1}, {MaxConns: 1, IPv6Prefix: 129}, {Handshakes: lim(-1, 1)}} {
		if _, err := NewIPs(o); err == nil {
			t.Errorf("NewIPs(%+v): no error", o)
		}
	}
}

func TestReasonString(t *testing.T) {
	for r, want := range map[Reason]string{Admitted: "admitted", HandshakeRate: "handshake rate", ConnLimit: "connections per IP", TableFull: "IP table full", 9: "Reason(9)"} {
		if r.String() != want {
			t.Errorf("%d: %q, want %q", r, r.String(), want)
		}
	}
}

// TestIPsIdleEntriesLeave: an entry leaves at once when its last connection
// is released with a full bucket, otherwise when swept or sampled once its
// bucket is full.
func TestIPsIdleEntriesLeave(t *testing.T) {
	var c clock
	counted := newIPs(t, IPOptions{MaxConns: 5, Now: c.now})
	counted.Admit(ipA)
	counted.Admit(ipA)
	counted.Release(ipA)
	if counted.Len() != 1 {
		t.Fatalf("with a connection open: %d entries", counted.Len())
	}
	counted.Release(ipA)
	if counted.Len() != 0 {
		t.Fatalf("count-only entry not deleted on its last release: %d entries", counted.Len())
	}

	rated := newIPs(t, IPOptions{Handshakes: lim(10, 2), Now: c.now}) // refills in 200 ms
	for range 2 {
		rated.Admit(ipA)
		rated.Release(ipA)
	}
	if rated.Len() != 1 {
		t.Fatal("an entry whose bucket is not full was deleted: its rate would reset")
	}
	if n := rated.Sweep(); n != 0 {
		t.Fatalf("swept %d entries whose bucket is not full", n)
	}
	c.advance(100 * ms)
	rated.Admit(ipB)
	c.advance(100 * ms) // A's bucket is full again; B's is not
	if n := rated.Sweep(); n != 1 || rated.Len() != 1 {
		t.Fatalf("swept %d, %d left; want 1 and 1 (B has a connection)", n, rated.Len())
	}
	c.advance(ms)
	rated.Release(ipB) // full by now: deleted at once
	if rated.Len() != 0 {
		t.Fatalf("%d entries left", rated.Len())
	}

	// Without Sweep, insertions sample their shard and delete what is idle.
	const n = 20000
	for i := range n {
		rated.Admit(nthIP(i))
		rated.Release(nthIP(i))
	}
	if rated.Len() != n {
		t.Fatalf("%d entries, want %d (all buckets still refilling)", rated.Len(), n)
	}
	c.advance(1e9)
	for i := range n {
		rated.Admit(nthIP(n + i))
		rated.Release(nthIP(n + i))
	}
	if l := rated.Len(); l > n+n/4 {
		t.Fatalf("%d entries after %d new IPs replaced %d idle ones; sampling should have deleted most idle ones", l, n, n)
	} else {
		t.Logf("%d entries after %d new IPs replaced %d idle ones", l, n, n)
	}
}

// TestIPsTrackedCap: at the cap, unknown IPs are refused (fail-closed)
// while tracked ones are served; a full table is swept for idle entries at
// most once a second.
func TestIPsTrackedCap(t *testing.T) {
	var c clock
	c.set(5e9)
	ips := newIPs(t, IPOptions{MaxConns: 10, MaxTracked: 4, Now: c.now})
	for i := range 4 {
		if got := ips.Admit(nthIP(i)); got != Admitted {
			t.Fatalf("IP %d: %v", i, got)
		}
	}
	if got := ips.Admit(nthIP(4)); got != TableFull {
		t.Fatalf("fifth IP at the cap: %v, want TableFull", got)
	}
	if got := ips.Admit(nthIP(0)); got != Admitted {
		t.Fatalf("a tracked IP at the cap: %v", got)
	}
	ips.Release(nthIP(1)) // idle: deleted, room for one
	if got := ips.Admit(nthIP(4)); got != Admitted {
		t.Fatalf("fifth IP after a release: %v", got)
	}
	if ips.Len() != 4 {
		t.Fatalf("%d entries, cap 4", ips.Len())
	}

	rated := newIPs(t, IPOptions{Handshakes: lim(10, 2), MaxTracked: 2, Now: c.now}) // refills in 200 ms
	for _, ip := range []netip.Addr{ipA, ipB} {
		rated.Admit(ip)
		rated.Release(ip) // stays: bucket refilling
	}
	// C must not share a shard with A or B, whose idle entries it would
	// otherwise find by sampling its shard.
	shardOf := func(ip netip.Addr) *ipShard { k, _ := rated.key(ip); return rated.shard(&k) }
	ipC := ipC
	for i := 0; shardOf(ipC) == shardOf(ipA) || shardOf(ipC) == shardOf(ipB); i++ {
		ipC = nthIP(i)
	}
	if got := rated.Admit(ipC); got != TableFull {
		t.Fatalf("C at the cap: %v", got) // swept (nothing idle) and refused
	}
	c.advance(300 * ms) // A and B idle now, but the last sweep was 300 ms ago
	if got := rated.Admit(ipC); got != TableFull {
		t.Fatalf("C within a second of the last sweep: %v", got)
	}
	c.advance(700 * ms)
	if got := rated.Admit(ipC); got != Admitted {
		t.Fatalf("C after a sweep could run: %v", got)
	}
	if rated.Len() != 1 {
		t.Fatalf("%d entries after the sweep, want 1 (C)", rated.Len())
	}

	// At the cap, a new IP first samples its own shard: an idle entry there
	// makes room at once, even when a full sweep may not run yet.
	rated.Release(ipC) // C's bucket is not full: the entry stays
	c.advance(200 * ms)
	other, same := ipC, ipC // IPs in another shard than C's and in the same
	for i := 0; shardOf(other) == shardOf(ipC); i++ {
		other = nthIP(i)
	}
	for i := 0; shardOf(same) != shardOf(ipC) || same == ipC; i++ {
		same = nthIP(i)
	}
	if got := rated.Admit(ipA); got != Admitted { // A is back: the table is full
		t.Fatalf("A: %v", got)
	}
	if got := rated.Admit(other); got != TableFull {
		t.Fatalf("an IP in another shard than the idle entry, 200 ms after a sweep: %v", got)
	}
	if got := rated.Admit(same); got != Admitted {
		t.Fatalf("an IP in the idle entry's shard: %v", got)
	}
	if rated.Len() != 2 {
		t.Fatalf("%d entries, cap 2", rated.Len())
	}
}

// TestIPsShardSpread: neighbouring addresses, which differ only in their
// last bytes, spread over the shards.
func TestIPsShardSpread(t *testing.T) {
	ips := newIPs(t, IPOptions{MaxConns: 1})
	for _, base := range []netip.Addr{ipA, netip.MustParseAddr("2001:db8::")} {
		used := map[*ipShard]bool{}
		ip := base
		for range 256 {
			k, _ := ips.key(ip)
			used[ips.shard(&k)] = true
			if ip.Is4() {
				ip = ip.Next()
			} else { // the next /64
				b := ip.As16()
				b[7]++
				ip = netip.AddrFrom16(b)
			}
		}
		if len(used) < ipShards*3/4 {
			t.Errorf("256 neighbours of %s use %d of %d shards", base, len(used), ipShards)
		}
	}
}

// TestIPsConcurrent: under concurrent Admit and Release the count per IP
// never exceeds its maximum, the cap holds, and everything released
// leaves.
func TestIPsConcurrent(t *testing.T) {
	var c clock
	const maxConns, maxTracked, workers = 3, 6, 8
	ips := newIPs(t, IPOptions{Handshakes: lim(1e3, 10), MaxConns: maxConns, MaxTracked: maxTracked, Now: c.now})
	var open [100]atomic.Int32
	var over, full atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range 5000 {
				n := (i*7 + w*13) % len(open)
				ip := nthIP(n)
				switch ips.Admit(ip) {
				case Admitted:
					if open[n].Add(1) > maxConns {
						over.Add(1)
					}
					if ips.Len() > maxTracked {
						over.Add(1)
					}
					c.advance(ms)
					open[n].Add(-1)
					ips.Release(ip)
				case TableFull:
					full.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if over.Load() != 0 {
		t.Fatalf("%d times over a limit", over.Load())
	}
	c.advance(1e9)
	ips.Sweep()
	if ips.Len() != 0 {
		t.Fatalf("%d entries left after everything was released and swept", ips.Len())
	}
	t.Logf("%d refusals for a full table of %d", full.Load(), workers*5000)
}

// TestIPsConcurrentOneIP: concurrent handshakes from one IP are admitted
// exactly up to its maximum.
func TestIPsConcurrentOneIP(t *testing.T) {
	ips := newIPs(t, IPOptions{MaxConns: 64, Now: func() int64 { return 0 }})
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if ips.Admit(ipA) == Admitted {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if admitted.Load() != 64 || ips.Conns(ipA) != 64 {
		t.Fatalf("admitted %d, counted %d; want 64", admitted.Load(), ips.Conns(ipA))
	}
}
