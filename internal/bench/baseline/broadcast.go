package baseline

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// broadcaster is the broadcast mode: connections are registered under
// numeric ids (a client learns its id by sending any message), and
// POST /STAGE/@connections/{id} compiles one text frame from the body and
// writes it to that connection under its lock.
type broadcaster struct {
	next  atomic.Int64
	mu    sync.RWMutex
	conns map[string]*target
}

type target struct {
	mu sync.Mutex
	c  net.Conn
}

func newBroadcaster() *broadcaster { return &broadcaster{conns: map[string]*target{}} }

func (b *broadcaster) serveConn(s *server, c net.Conn) {
	id := "c" + strconv.FormatInt(b.next.Add(1), 10) + "="
	t := &target{c: c}
	b.mu.Lock()
	b.conns[id] = t
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.conns, id)
		b.mu.Unlock()
	}()
	frame := appendFrame(nil, ws.OpText, []byte(id))
	r := newReader(c)
	for {
		if _, _, err := r.next(); err != nil {
			return
		}
		t.mu.Lock()
		_, err := c.Write(frame)
		t.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (b *broadcaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, id, ok := strings.Cut(r.URL.Path, "/@connections/")
	if !ok || r.Method != http.MethodPost {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 128<<10))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.RLock()
	t := b.conns[id]
	b.mu.RUnlock()
	if t == nil {
		http.Error(w, "gone", http.StatusGone)
		return
	}
	frame, err := ws.CompileFrame(ws.NewTextFrame(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	t.mu.Lock()
	t.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err = t.c.Write(frame)
	t.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusGone)
		return
	}
	w.WriteHeader(http.StatusOK)
}
