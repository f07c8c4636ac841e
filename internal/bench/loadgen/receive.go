package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// WhoAmI asks each connection for its connection id by sending
// {"action":"whoami"} and reading the reply, which is the id itself (a
// MOCK route answering $context.connectionId on the gateway; the bare
// broadcast server answers any message with the id).
func WhoAmI(ctx context.Context, conns []*Conn, concurrency int) ([]string, error) {
	ids := make([]string, len(conns))
	var mu sync.Mutex
	var first error
	forEach(ctx, len(conns), concurrency, func(i int) {
		c := conns[i]
		c.SetDeadline(time.Now().Add(10 * time.Second))
		defer c.SetDeadline(time.Time{})
		err := c.WriteText([]byte(`{"action":"whoami"}`))
		var msg []byte
		if err == nil {
			msg, err = c.ReadMessage()
		}
		if err == nil && len(msg) == 0 {
			err = fmt.Errorf("empty connection id")
		}
		if err != nil {
			mu.Lock()
			if first == nil {
				first = fmt.Errorf("whoami on connection %d: %w", i, err)
			}
			mu.Unlock()
			return
		}
		ids[i] = string(msg)
	})
	if first != nil {
		return nil, first
	}
	return ids, ctx.Err()
}

// RunReceive reads every connection until the window has ended and grace
// has passed, recording each message's delivery latency (now minus the
// timestamp the sender put in it). Ops count deliveries in the window,
// Total all of them.
func RunReceive(ctx context.Context, conns []*Conn, w Window, grace time.Duration) Stats {
	var col collector
	var wg sync.WaitGroup
	until := w.End.Add(grace)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var st Stats
			defer col.add(&st)
			stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
			defer stop()
			c.SetReadDeadline(until)
			defer c.SetReadDeadline(time.Time{})
			for {
				msg, err := c.ReadMessage()
				if err != nil {
					if !isTimeout(err) {
						st.Fail(err)
					}
					return
				}
				now := time.Now()
				t, ok := ParseStamp(msg)
				if !ok {
					st.Fail(fmt.Errorf("unexpected message %.80q", msg))
					continue
				}
				st.Done(w, time.Unix(0, t), now)
			}
		}()
	}
	wg.Wait()
	col.Seconds = w.Seconds()
	return col.Stats
}
