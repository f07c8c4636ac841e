// Package backend is the trivial integration backend the benchmark starts
// (`switchboard-bench backend`): it answers every POST with a Lambda proxy
// response, echoing the request's top-level "body" when there is one
// ({"statusCode":200,"body":<that body>}) and {"statusCode":200} otherwise
// ($connect and $disconnect events). The gateway's AWS_PROXY routes and
// the bare routed echo both call it.
package backend

import (
	"context"
	"encoding/json"
	"expvar"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// maxEventBytes bounds one request body (the gateway's response limit).
const maxEventBytes = 6 << 20

// Handler answers proxy events; requests counts the events answered.
type Handler struct {
	requests atomic.Int64
}

var _ http.Handler = (*Handler)(nil)

// Requests is how many events have been answered.
func (h *Handler) Requests() int64 { return h.requests.Load() }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	event, err := io.ReadAll(io.LimitReader(r.Body, maxEventBytes))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.requests.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Write(ProxyResponse(make([]byte, 0, len(event)+32), event))
}

// ProxyResponse appends to dst the proxy response for event: its top-level
// "body" string copied as is, or no body.
func ProxyResponse(dst, event []byte) []byte {
	dst = append(dst, `{"statusCode":200`...)
	if raw, ok := TopLevelString(event, "body"); ok {
		dst = append(dst, `,"body":`...)
		dst = append(dst, raw...)
	}
	return append(dst, '}')
}

// current is the handler /debug/vars reports on (expvar names are
// process-wide).
var (
	current     atomic.Pointer[Handler]
	publishOnce sync.Once
)

// Info is the line `switchboard-bench backend` prints when it is ready.
type Info struct {
	URL   string `json:"url"`
	Debug string `json:"debug"`
}

// Serve listens on 127.0.0.1:0, prints Info as one JSON line to out and
// serves until ctx ends. /debug/vars reports "bench" {connections: events
// answered, goroutines}.
func Serve(ctx context.Context, out io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	h := &Handler{}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.Handle("/debug/vars", expvar.Handler())
	current.Store(h)
	publishOnce.Do(func() {
		expvar.Publish("bench", expvar.Func(func() any {
			return map[string]int64{"connections": current.Load().Requests(), "goroutines": int64(runtime.NumGoroutine())}
		}))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()
	line, _ := json.Marshal(Info{URL: base + "/", Debug: base})
	fmt.Fprintf(out, "%s\n", line)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return srv.Close()
	}
}
