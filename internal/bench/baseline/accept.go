package baseline

import (
	"context"
	"net"
	"sync"
)

// serveAccept upgrades each connection and keeps the socket in a ring of
// opt.Hold entries without reading it: no goroutine, no buffer. When the
// ring is full the oldest socket is closed.
func (s *server) serveAccept(ctx context.Context, ln net.Listener) error {
	var mu sync.Mutex
	ring := make([]net.Conn, s.opt.Hold)
	next := 0
	go func() {
		<-ctx.Done()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range ring {
			if c != nil {
				c.Close()
			}
		}
	}()
	return acceptUpgraded(ln, func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		if old := ring[next]; old != nil {
			old.Close()
		} else {
			s.conns.Add(1)
		}
		ring[next] = c
		next = (next + 1) % len(ring)
	})
}
