// Package baseline holds the bare servers the benchmark compares the
// gateway with, each doing only its scenario's unavoidable work on the same
// WebSocket library (gobwas/ws), run as separate processes by
// `switchboard-bench bare --mode MODE`:
//
//   - accept: accept and upgrade, then hold the socket without reading it
//     (handshake rate and idle memory);
//   - echo: write every message back (no routing, no events);
//   - routed: POST every message to the backend, with no event building,
//     and write the reply's body back;
//   - broadcast: a plain POST /STAGE/@connections/{id} writes a frame
//     compiled once from its body to that connection;
//   - mgmt: a net/http handler answering 200 to every POST (no WebSocket,
//     no SigV4).
//
// serverless-offline, the other baseline, is started from serverless.go.
package baseline

import (
	"context"
	"encoding/json"
	"expvar"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Modes lists the bare servers.
var Modes = []string{"accept", "echo", "routed", "broadcast", "mgmt"}

// Options configure a bare server.
type Options struct {
	// Mode is one of Modes.
	Mode string
	// Stage is the URL path clients use (ws://ADDR/STAGE). Default "dev".
	Stage string
	// Backend is the URL the routed mode POSTs to.
	Backend string
	// Hold bounds the sockets the accept mode keeps; beyond it the oldest
	// is closed (the handshake storm would otherwise exhaust descriptors).
	// Default 18000.
	Hold int
	// Inflight bounds the messages of one connection the routed mode
	// handles at once (the gateway's maxInflightMessages). Default 16.
	Inflight int
}

// Info is the line a bare server prints when it is ready.
type Info struct {
	Mode string `json:"mode"`
	// WS is the WebSocket URL (not for mgmt).
	WS string `json:"ws,omitempty"`
	// HTTP is the management endpoint, http://ADDR/STAGE (broadcast, mgmt).
	HTTP string `json:"http,omitempty"`
	// Debug serves /debug/vars ("bench": connections, goroutines) and /debug/pprof/.
	Debug string `json:"debug"`
}

// current is the server /debug/vars reports on (expvar names are
// process-wide; tests run several servers in one process).
var (
	current     atomic.Pointer[server]
	publishOnce sync.Once
)

// server is the state every mode shares.
type server struct {
	opt   Options
	conns atomic.Int64
}

// Serve runs the bare server for opt.Mode on 127.0.0.1 ports of its own,
// prints Info as a JSON line to out, and serves until ctx ends.
func Serve(ctx context.Context, opt Options, out io.Writer) error {
	if opt.Stage == "" {
		opt.Stage = "dev"
	}
	if opt.Hold == 0 {
		opt.Hold = 18000
	}
	if opt.Inflight == 0 {
		opt.Inflight = 16
	}
	s := &server{opt: opt}
	dbg, err := s.serveDebug()
	if err != nil {
		return err
	}
	defer dbg.Close()
	info := Info{Mode: opt.Mode, Debug: "http://" + dbg.Addr().String()}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	base := ln.Addr().String() + "/" + opt.Stage
	errc := make(chan error, 2)
	switch opt.Mode {
	case "accept":
		info.WS = "ws://" + base
		go func() { errc <- s.serveAccept(ctx, ln) }()
	case "echo":
		info.WS = "ws://" + base
		go func() { errc <- s.serveWS(ln, s.echo) }()
	case "routed":
		if opt.Backend == "" {
			return fmt.Errorf("bare routed: --backend URL is required")
		}
		info.WS = "ws://" + base
		r := newRouter(opt.Backend)
		go func() { errc <- s.serveWS(ln, func(c net.Conn) { r.serve(s, c) }) }()
	case "broadcast":
		b := newBroadcaster()
		info.WS = "ws://" + base
		hln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer hln.Close()
		info.HTTP = "http://" + hln.Addr().String() + "/" + opt.Stage
		go func() { errc <- s.serveWS(ln, func(c net.Conn) { b.serveConn(s, c) }) }()
		go func() { errc <- serveHTTP(hln, b) }()
	case "mgmt":
		info.HTTP = "http://" + base
		go func() { errc <- serveHTTP(ln, http.HandlerFunc(ok200)) }()
	default:
		return fmt.Errorf("unknown bare mode %q (want one of %v)", opt.Mode, Modes)
	}
	line, _ := json.Marshal(info)
	fmt.Fprintf(out, "%s\n", line)
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}

func (s *server) serveDebug() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	current.Store(s)
	publishOnce.Do(func() {
		expvar.Publish("bench", expvar.Func(func() any {
			var conns int64
			if s := current.Load(); s != nil {
				conns = s.conns.Load()
			}
			return map[string]int64{"connections": conns, "goroutines": int64(runtime.NumGoroutine())}
		}))
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.Handle("/debug/vars", expvar.Handler())
	go http.Serve(ln, mux)
	return ln, nil
}

// acceptUpgraded accepts connections, upgrades each on its own goroutine
// and calls use with it on that goroutine.
func acceptUpgraded(ln net.Listener, use func(net.Conn)) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return acceptError(err)
		}
		go func() {
			if upgrade(c) {
				use(c)
			}
		}()
	}
}

// serveWS runs handle on each upgraded connection's goroutine and closes
// the connection when handle returns.
func (s *server) serveWS(ln net.Listener, handle func(net.Conn)) error {
	return acceptUpgraded(ln, func(c net.Conn) {
		s.conns.Add(1)
		defer s.conns.Add(-1)
		defer c.Close()
		handle(c)
	})
}

func serveHTTP(ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return acceptError(srv.Serve(ln))
}

// ok200 is the mgmt mode: read the body, answer 200.
func ok200(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.WriteHeader(http.StatusOK)
}

func acceptError(err error) error {
	if err == nil || err == http.ErrServerClosed || isClosed(err) {
		return nil
	}
	return err
}
