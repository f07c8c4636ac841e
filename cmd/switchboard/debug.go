package main

import (
	"expvar"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"

	"github.com/switchboardgw/switchboard/internal/server"
)

// serveDebug serves profiling and runtime figures on their own listener,
// away from the API: /debug/pprof/ (net/http/pprof) and /debug/vars
// (expvar: memstats, cmdline, and "switchboard" with connections,
// goroutines and the session counters).
func serveDebug(addr string, srv *server.Server) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	expvar.Publish("switchboard", expvar.Func(func() any {
		st := srv.Stats()
		return map[string]int64{
			"connections":            int64(srv.Connections()),
			"goroutines":             int64(runtime.NumGoroutine()),
			"slowClientsClosed":      st.SlowClosed.Load(),
			"sendsRejectedQueueFull": st.QueueRejected.Load(),
			"protocolCloses":         st.ProtocolClosed.Load(),
		}
	}))
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/vars", expvar.Handler())
	go http.Serve(ln, mux)
	return ln, nil
}
