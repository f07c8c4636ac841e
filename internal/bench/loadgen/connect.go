package loadgen

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// RunHandshakes opens connections as fast as concurrency goroutines can
// until the window ends: dial, handshake, then reset the socket (no
// TIME_WAIT). Ops are handshakes completed in the window; Latency is dial
// to upgraded, in µs. first numbers the connections (source addresses).
func RunHandshakes(ctx context.Context, d *Dialer, targets []string, first, concurrency int, w Window) Stats {
	var col collector
	var next atomic.Int64
	next.Store(int64(first))
	var wg sync.WaitGroup
	for range max(concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var st Stats
			defer col.add(&st)
			for ctx.Err() == nil && time.Now().Before(w.End) {
				i := int(next.Add(1) - 1)
				t0 := time.Now()
				c, err := d.DialRaw(ctx, Target(targets, i), i)
				t1 := time.Now()
				if err != nil {
					if ctx.Err() == nil {
						st.Fail(err)
						time.Sleep(10 * time.Millisecond)
					}
					continue
				}
				Abort(c)
				st.Done(w, t0, t1)
			}
		}()
	}
	wg.Wait()
	col.Seconds = w.Seconds()
	return col.Stats
}
