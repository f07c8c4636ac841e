package loadgen

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Echo configures an echo workload: every message sent carries its send
// (or scheduled) time and the server sends it back.
type Echo struct {
	// Action is the message's "action" member (route selection).
	Action string
	// Size is the message size in bytes.
	Size int
	// Inflight is the number of messages each connection keeps in flight
	// (closed loop). Ignored when Rate is set.
	Inflight int
	// Rate, when positive, is the total offered rate in messages per second
	// (open loop): sends are paced by time over the connections, whatever
	// the replies do.
	Rate float64
	// Drain bounds the wait for outstanding replies after the window.
	Drain time.Duration
}

// RunEcho drives conns for the window w and returns the replies received
// inside it with their round-trip latency. A reply missing Drain after the
// window is an error.
func RunEcho(ctx context.Context, conns []*Conn, w Window, e Echo) Stats {
	if e.Drain == 0 {
		e.Drain = 5 * time.Second
	}
	if e.Rate > 0 {
		return echoOpen(ctx, conns, w, e)
	}
	return echoClosed(ctx, conns, w, e)
}

// echoClosed runs one goroutine per connection: send Inflight messages,
// then send one more for each reply until the window ends.
func echoClosed(ctx context.Context, conns []*Conn, w Window, e Echo) Stats {
	var col collector
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var st Stats
			defer col.add(&st)
			var buf []byte
			send := func() error {
				buf = AppendMessage(buf[:0], e.Action, time.Now().UnixNano(), e.Size)
				return c.WriteText(buf)
			}
			stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
			defer stop()
			c.SetReadDeadline(w.End.Add(e.Drain))
			outstanding := 0
			for range max(e.Inflight, 1) {
				if err := send(); err != nil {
					st.Fail(err)
					return
				}
				outstanding++
			}
			for outstanding > 0 {
				msg, err := c.ReadMessage()
				if err != nil {
					st.Fail(fmt.Errorf("%d replies outstanding: %w", outstanding, err))
					return
				}
				now := time.Now()
				outstanding--
				t, ok := ParseStamp(msg)
				if !ok {
					st.Fail(fmt.Errorf("unexpected reply %.80q", msg))
					continue
				}
				st.Done(w, time.Unix(0, t), now)
				if now.Before(w.End) {
					if err := send(); err != nil {
						st.Fail(err)
						return
					}
					outstanding++
				}
			}
		}()
	}
	wg.Wait()
	col.Seconds = w.Seconds()
	return col.Stats
}

// echoOpen paces sends by time: a few pacer goroutines each own a share of
// the rate and of the connections (each connection has one writer, its
// pacer, and one reader). Latency runs from the scheduled time.
func echoOpen(ctx context.Context, conns []*Conn, w Window, e Echo) Stats {
	var col collector
	var sent, received atomic.Int64
	var stopping atomic.Bool

	var readers sync.WaitGroup
	for _, c := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var st Stats
			defer col.add(&st)
			for {
				msg, err := c.ReadMessage()
				if err != nil {
					if !stopping.Load() {
						st.Fail(err)
					}
					return
				}
				now := time.Now()
				received.Add(1)
				t, ok := ParseStamp(msg)
				if !ok {
					st.Fail(fmt.Errorf("unexpected reply %.80q", msg))
					continue
				}
				st.Done(w, time.Unix(0, t), now)
			}
		}()
	}

	pacers := min(len(conns), 4)
	var senders sync.WaitGroup
	var sentInWindow atomic.Int64
	runCtx, cancel := context.WithDeadline(ctx, w.End)
	defer cancel()
	for k := range pacers {
		senders.Add(1)
		go func() {
			defer senders.Done()
			var st Stats
			defer col.add(&st)
			mine := make([]*Conn, 0, len(conns)/pacers+1)
			for i := k; i < len(conns); i += pacers {
				mine = append(mine, conns[i])
			}
			// Stagger the pacers so their sends interleave.
			p := NewPacer(time.Now().Add(time.Duration(k)*time.Second/time.Duration(e.Rate)), e.Rate/float64(pacers))
			var buf []byte
			for i := 0; ; i++ {
				t, ok := p.Wait(runCtx)
				if !ok || !t.Before(w.End) {
					return
				}
				c := mine[i%len(mine)]
				buf = AppendMessage(buf[:0], e.Action, t.UnixNano(), e.Size)
				sent.Add(1)
				if err := c.WriteText(buf); err != nil {
					received.Add(1) // nothing will come back for it
					st.Fail(err)
					continue
				}
				if w.In(t) {
					sentInWindow.Add(1)
				}
			}
		}()
	}
	senders.Wait()

	// Wait for the replies still on their way, then stop the readers.
	deadline := time.Now().Add(e.Drain)
	for received.Load() < sent.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	stopping.Store(true)
	for _, c := range conns {
		c.SetReadDeadline(time.Now())
	}
	readers.Wait()
	for _, c := range conns {
		c.SetReadDeadline(time.Time{})
	}
	if missing := sent.Load() - received.Load(); missing > 0 {
		col.Fail(fmt.Errorf("%d replies missing %v after the window", missing, e.Drain))
		col.Errors += missing - 1
	}
	col.Sent = sentInWindow.Load()
	col.Seconds = w.Seconds()
	return col.Stats
}
