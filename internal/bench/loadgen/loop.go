package loadgen

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// closedLoop runs workers goroutines until ctx ends or the window closes;
// each repeats its own operation (newOp makes one per worker, so it can keep
// per-worker state) on sequence numbers counted from first. An operation
// reports when it started and ended, or its error; after an error the
// worker pauses briefly rather than spin.
func closedLoop(ctx context.Context, workers, first int, w Window, newOp func() func(i int) (start, end time.Time, err error)) Stats {
	var col collector
	var next atomic.Int64
	next.Store(int64(first))
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var st Stats
			defer col.add(&st)
			op := newOp()
			for ctx.Err() == nil && time.Now().Before(w.End) {
				start, end, err := op(int(next.Add(1) - 1))
				if err != nil {
					if ctx.Err() == nil {
						st.Fail(err)
						time.Sleep(10 * time.Millisecond)
					}
					continue
				}
				st.Done(w, start, end)
			}
		}()
	}
	wg.Wait()
	col.Seconds = w.Seconds()
	return col.Stats
}
