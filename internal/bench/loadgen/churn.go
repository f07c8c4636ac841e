package loadgen

import (
	"context"
	"fmt"
	"time"
)

// RunChurn has concurrency goroutines connect, exchange one echo message
// and disconnect until the window ends, alternating a clean close (close
// frame, wait for the server's) with an abrupt reset. Ops count complete
// cycles in the window; Latency is one cycle, in µs.
func RunChurn(ctx context.Context, d *Dialer, targets []string, first, concurrency int, w Window, e Echo) Stats {
	return closedLoop(ctx, concurrency, first, w, func() func(int) (time.Time, time.Time, error) {
		var buf []byte
		return func(i int) (time.Time, time.Time, error) {
			t0 := time.Now()
			err := churnOnce(ctx, d, Target(targets, i), i, e, &buf)
			return t0, time.Now(), err
		}
	})
}

func churnOnce(ctx context.Context, d *Dialer, target string, i int, e Echo, buf *[]byte) error {
	c, err := d.Dial(ctx, target, i)
	if err != nil {
		return err
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	now := time.Now().UnixNano()
	*buf = AppendMessage((*buf)[:0], e.Action, now, e.Size)
	if err := c.WriteText(*buf); err != nil {
		Abort(c)
		return fmt.Errorf("churn send: %w", err)
	}
	msg, err := c.ReadMessage()
	if err != nil {
		Abort(c)
		return fmt.Errorf("churn reply: %w", err)
	}
	if t, ok := ParseStamp(msg); !ok || t != now {
		Abort(c)
		return fmt.Errorf("churn reply: unexpected %.80q", msg)
	}
	if i%2 == 0 {
		return c.CloseNormally(3 * time.Second)
	}
	Abort(c.Conn)
	return nil
}
