package loadgen

import (
	"context"
	"time"
)

// RunHandshakes opens connections as fast as concurrency goroutines can
// until the window ends: dial, handshake, then reset the socket (no
// TIME_WAIT). Ops are handshakes completed in the window; Latency is dial
// to upgraded, in µs. first numbers the connections (source addresses).
func RunHandshakes(ctx context.Context, d *Dialer, targets []string, first, concurrency int, w Window) Stats {
	return closedLoop(ctx, concurrency, first, w, func() func(int) (time.Time, time.Time, error) {
		return func(i int) (time.Time, time.Time, error) {
			t0 := time.Now()
			c, err := d.DialRaw(ctx, Target(targets, i), i)
			t1 := time.Now()
			if err == nil {
				Abort(c)
			}
			return t0, t1, err
		}
	})
}
