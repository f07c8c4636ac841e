package loadgen

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
)

// Target picks the server of the i-th connection: connections are spread
// round-robin over targets.
func Target(targets []string, i int) string { return targets[i%len(targets)] }

// DialIdle opens n connections (numbered from first, which picks their
// source addresses and targets) with concurrency dials at a time, and
// returns the bare sockets: an idle connection costs the load generator
// one file descriptor and no goroutine. Failed dials are counted in Stats
// and leave no entry.
func DialIdle(ctx context.Context, d *Dialer, targets []string, first, n, concurrency int) ([]net.Conn, Stats) {
	conns := make([]net.Conn, n)
	var col collector
	forEach(ctx, n, concurrency, func(i int) {
		c, err := d.DialRaw(ctx, Target(targets, first+i), first+i)
		if err != nil {
			col.add(&Stats{Errors: 1, ErrorSamples: []string{err.Error()}})
			return
		}
		conns[i] = c
	})
	out := conns[:0]
	for _, c := range conns {
		if c != nil {
			out = append(out, c)
		}
	}
	col.Ops = int64(len(out))
	col.Total = col.Ops
	return out, col.Stats
}

// DialActive opens n connections for an active workload; it fails on the
// first error, closing what it opened.
func DialActive(ctx context.Context, d *Dialer, targets []string, first, n, concurrency int) ([]*Conn, error) {
	conns := make([]*Conn, n)
	var failed atomic.Pointer[error]
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	forEach(ctx, n, concurrency, func(i int) {
		c, err := d.Dial(ctx, Target(targets, first+i), first+i)
		if err != nil {
			failed.CompareAndSwap(nil, &err)
			cancel()
			return
		}
		conns[i] = c
	})
	if err := failed.Load(); err != nil || ctx.Err() != nil {
		CloseAll(conns)
		if err != nil {
			return nil, *err
		}
		return nil, ctx.Err()
	}
	return conns, nil
}

// CloseAll closes every non-nil connection.
func CloseAll(conns []*Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// forEach runs fn(0..n-1) on concurrency goroutines, stopping early when
// ctx ends.
func forEach(ctx context.Context, n, concurrency int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(max(concurrency, 1), max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}
