// Package server is Switchboard's composition root: it builds the route
// table, integrations, registry, management API and session limits from a
// configuration, serves WebSocket clients and the @connections API on one
// listener, replaces what a configuration built when it is reloaded
// (reload.go), and drains connections on shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboardgw/switchboard/internal/accesslog"
	"github.com/switchboardgw/switchboard/internal/config"
	"github.com/switchboardgw/switchboard/internal/dispatch"
	"github.com/switchboardgw/switchboard/internal/integration"
	"github.com/switchboardgw/switchboard/internal/integration/awsproxy"
	"github.com/switchboardgw/switchboard/internal/metrics"
	"github.com/switchboardgw/switchboard/internal/netpoll"
	"github.com/switchboardgw/switchboard/internal/registry"
	"github.com/switchboardgw/switchboard/internal/session"
	"github.com/switchboardgw/switchboard/internal/throttle"
)

// closeGrace is how long a closing connection waits for the client's
// close frame before the TCP connection is dropped.
const closeGrace = 3 * time.Second

// Server is one running gateway.
type Server struct {
	log   *slog.Logger
	ids   *registry.IDs
	conns *registry.Registry[*session.Conn]
	// cur is the generation in use: what the configuration in use built.
	// Apply replaces it, under reloadMu.
	cur      atomic.Pointer[generation]
	reloadMu sync.Mutex
	dispatch *dispatch.Dispatcher
	metrics  *metrics.Metrics // nil: metrics are off
	// accessLog is the access log writer, nil while access logs are off;
	// it changes under reloadMu. retired holds those a reload turned off
	// until they are closed (at shutdown if not before), and retiredDropped
	// and retiredLost the counts of those closed.
	accessLog      atomic.Pointer[accesslog.Writer]
	retiredMu      sync.Mutex
	retired        []*accesslog.Writer
	retiredDropped uint64
	retiredLost    uint64
	// logQuietAt is when every message and handshake begun under a
	// configuration replaced so far will have ended (under reloadMu): a
	// writer turned off is closed then, not before.
	logQuietAt time.Time
	// lambdas and client are shared by the integrations and authorizers of
	// every generation, and so are their connection pools.
	lambdas *awsproxy.LambdaClients
	client  *http.Client

	// What the first configuration fixed until a restart (see
	// config.KeepRestartOnly).
	opts      session.Options
	stats     session.Stats
	http      *http.Server
	httpIn    *handoffListener // connections net/http serves
	stagePath string
	poller    *netpoll.Poller // nil: a goroutine per connection
	ips       *throttle.IPs   // per-source-IP limits; nil: none
	tlsConfig *tls.Config     // nil: plain ws:// and http://
	scheme    string          // "http" or "https", for X-Forwarded-Proto

	cert atomic.Pointer[tls.Certificate] // the served certificate; replaced by Apply

	lnMu sync.Mutex
	ln   net.Listener // set by Serve, closed by Shutdown

	// fresh holds accepted connections whose first request head is not
	// read yet; http.Server.Shutdown would wait 5 s for each, so Shutdown
	// closes them.
	freshMu sync.Mutex
	fresh   map[net.Conn]struct{}
	// firsts counts serveFirst calls, added to under freshMu while not
	// stopping: a handshake answered on the socket is no request of
	// net/http's, so Shutdown waits for it here.
	firsts sync.WaitGroup

	live      sync.WaitGroup // connections between upgrade and HandleClose
	liveCount atomic.Int64
	pending   atomic.Int64 // handshakes waiting on $connect
	stopping  atomic.Bool

	// integrationCtx is the parent of every integration call; cancelled
	// when shutdown stops waiting.
	integrationCtx    context.Context
	cancelIntegration context.CancelFunc
}

// New builds a server from a validated configuration.
func New(cfg *config.Config, log *slog.Logger) (_ *Server, err error) {
	s := &Server{
		log:       log,
		ids:       registry.NewIDs(),
		conns:     registry.New[*session.Conn](),
		stagePath: "/" + cfg.Stage.Name,
		fresh:     map[net.Conn]struct{}{},
		lambdas:   awsproxy.NewLambdaClients(),
		client:    integration.NewHTTPClient(),
	}
	s.integrationCtx, s.cancelIntegration = context.WithCancel(context.Background())
	defer func() {
		if err != nil { // stop what was started: JWKS refreshes, the access log writer
			s.cancelIntegration()
			if w := s.accessLog.Load(); w != nil {
				w.Close()
			}
		}
	}()
	if s.ips, err = buildIPLimits(cfg); err != nil {
		return nil, err
	}
	l := cfg.Stage.Limits
	s.opts = session.Options{
		IdleTimeout:     l.IdleTimeout.D(),
		MaxDuration:     l.MaxConnectionDuration.D(),
		MaxMessageBytes: l.MaxMessageBytes,
		MaxFrameBytes:   l.MaxFrameBytes,
		AllowBinary:     l.BinaryFrames == config.BinaryAllow,
		SendQueueBytes:  l.SendQueueBytes,
		WriteTimeout:    l.WriteTimeout.D(),
		MaxInflight:     l.MaxInflightMessages,
		CloseGrace:      closeGrace,
		Stats:           &s.stats,
	}
	if s.metrics, err = newMetrics(cfg, s); err != nil {
		return nil, err
	}
	s.dispatch = dispatch.New(s.integrationCtx, s.ids, s.metrics, log)
	retry := cfg.DisconnectRetry
	s.dispatch.SetDisconnectRetry(dispatch.DisconnectRetry{
		QueueSize: retry.QueueSize, Window: retry.Window(), InitialBackoff: retry.InitialBackoff.D(), MaxBackoff: retry.MaxBackoff.D(),
	})
	p, err := s.prepare(cfg, nil)
	if err != nil {
		return nil, err
	}
	s.install(p, nil)

	s.scheme = "http"
	if cfg.TLS != nil {
		s.scheme = "https"
		s.tlsConfig = &tls.Config{
			MinVersion: cfg.TLS.TLSVersion(),
			NextProtos: []string{"http/1.1"}, // WebSocket upgrades need HTTP/1.1
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return s.cert.Load(), nil
			},
		}
	}
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: l.HandshakeTimeout.D(),
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ConnState:         s.trackFresh,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	if cfg.Reader != config.ReaderGoroutine {
		p, err := netpoll.New()
		switch {
		case err == nil:
			s.poller = p
		case cfg.Reader == config.ReaderEpoll:
			return nil, fmt.Errorf("reader: %w", err)
		}
	}
	return s, nil
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if s.Config().Management.Auth == config.AuthNone {
		s.log.Warn("management API has no authentication (management.auth: none): anyone who reaches the listener can post to and close connections",
			slog.String("listen", ln.Addr().String()))
	}
	s.lnMu.Lock()
	if s.stopping.Load() {
		s.lnMu.Unlock()
		ln.Close()
		return nil
	}
	if s.tlsConfig != nil {
		ln = tls.NewListener(ln, s.tlsConfig)
	}
	s.ln = ln
	s.httpIn = newHandoffListener(ln.Addr())
	s.lnMu.Unlock()
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.http.Serve(s.httpIn) }()
	s.metrics.SetReady(true)
	err := s.acceptLoop(ln)
	s.httpIn.Close()
	if herr := <-httpDone; !errors.Is(herr, http.ErrServerClosed) && !errors.Is(herr, net.ErrClosed) {
		err = errors.Join(err, herr)
	}
	return err
}

// ServeHTTP routes a request: the stage path is the WebSocket endpoint,
// {stage}/@connections/... the management API; anything else is answered
// like API Gateway answers an unknown path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	g := s.cur.Load()
	if r.ContentLength != 0 && !g.management.Matches(path) {
		// Only the management API reads a body (under its own deadline).
		// net/http drains one left unread, before the answer and after it,
		// with no deadline: bound that, or a client that never sends its
		// body would hold the connection forever.
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(g.cfg.Stage.Limits.HandshakeTimeout.D()))
	}
	switch {
	case s.isStagePath(path):
		// checkUpgrade refuses a body: no upgraded connection keeps the
		// deadline above.
		s.upgradeHTTP(w, r)
	case g.management.Matches(path):
		g.management.ServeHTTP(w, r)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-amzn-ErrorType", "ForbiddenException")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"message":"Forbidden"}`))
	}
}

// HandleMessage implements session.Handler: the configuration in use
// routes the message.
func (s *Server) HandleMessage(c *session.Conn, msg []byte, binary bool) {
	s.cur.Load().routes.HandleMessage(c, msg, binary)
}

// HandleClose implements session.Handler: the connection leaves the
// registry (so @connections answers 410) and $disconnect runs.
func (s *Server) HandleClose(c *session.Conn, code int, reason string) {
	s.conns.Remove(c.ID)
	s.releaseIP(c.SourceIP)
	s.cur.Load().routes.HandleClose(&c.Info, code, reason)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("disconnected", slog.String("connectionId", c.ID), slog.Int("code", code), slog.String("reason", reason))
	}
	s.liveCount.Add(-1)
	s.live.Done()
}

// trackFresh keeps the set of connections that have sent no request yet.
func (s *Server) trackFresh(c net.Conn, state http.ConnState) {
	s.freshMu.Lock()
	defer s.freshMu.Unlock()
	if state == http.StateNew {
		s.fresh[c] = struct{}{}
	} else {
		delete(s.fresh, c)
	}
}

// closeFresh closes connections that never sent a request.
func (s *Server) closeFresh() {
	s.freshMu.Lock()
	defer s.freshMu.Unlock()
	for c := range s.fresh {
		c.Close()
		delete(s.fresh, c)
	}
}

// MetricsHandler serves /metrics, /healthz and /readyz; nil without a
// metrics section in the configuration.
func (s *Server) MetricsHandler() http.Handler {
	if s.metrics == nil {
		return nil
	}
	return s.metrics.Handler()
}

// drain closes every connection with 1001 "Going away", spread evenly
// over the drain window in small batches, or at once when ctx ends first.
func (s *Server) drain(ctx context.Context) {
	conns := s.conns.Snapshot()
	window := s.Config().Drain()
	const tick = 10 * time.Millisecond
	batches := max(1, int(window/tick))
	per := (len(conns) + batches - 1) / batches
	t := time.NewTicker(tick)
	defer t.Stop()
	for i, c := range conns {
		if i > 0 && i%per == 0 && ctx.Err() == nil {
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
		c.Close(session.CodeGoingAway, session.ReasonGoingAway)
	}
}

// closeAccessLogs closes every access log writer, which writes out every
// line logged so far, waiting until ctx ends (or for a second, when it
// already has): a destination that does not take the lines must not hold
// the process.
func (s *Server) closeAccessLogs(ctx context.Context) error {
	s.retiredMu.Lock()
	closing := append(slices.Clone(s.retired), s.accessLog.Load())
	s.retiredMu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, w := range closing {
			if w != nil {
				w.Close()
			}
		}
	}()
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), time.Second)
		defer cancel()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shutdown: the access log's last lines are not written: %w", ctx.Err())
	}
}

// Connections returns the number of open connections.
func (s *Server) Connections() int { return int(s.liveCount.Load()) }

// Stats returns the session counters.
func (s *Server) Stats() *session.Stats { return &s.stats }

// Shutdown stops the gateway in stages: stop accepting, close every
// connection with 1001 "Going away" while pending handshakes finish, wait
// for the connections to end and their $disconnect deliveries, and give up
// on whatever is left when ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.metrics.SetDraining() // /readyz fails from now on
	s.reloadMu.Lock()       // no reload from now on
	s.freshMu.Lock()        // addFresh checks stopping under this lock
	s.stopping.Store(true)
	s.freshMu.Unlock()
	s.reloadMu.Unlock()
	s.lnMu.Lock()
	if s.ln != nil {
		s.ln.Close()
	}
	s.lnMu.Unlock()
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.http.Shutdown(ctx) }()
	s.drain(ctx)
	// A handshake finishing now either is in the snapshot above or sees
	// stopping and closes itself (see handshake).

	var err error
	sweep := time.NewTicker(50 * time.Millisecond)
	defer sweep.Stop()
	for httpDone != nil {
		s.closeFresh()
		select {
		case err = <-httpDone:
			httpDone = nil
		case <-sweep.C:
		case <-ctx.Done():
			err, httpDone = ctx.Err(), nil
		}
	}

	done := make(chan struct{})
	go func() {
		s.firsts.Wait() // handshakes answered on the socket, $connect included
		s.live.Wait()
		s.dispatch.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("shutdown: %d connections or $disconnect deliveries left: %w", s.Connections(), ctx.Err()))
	}
	s.cancelIntegration()
	// Cancelled, the $disconnect queue drops what it still holds and the
	// attempts in flight return: wait for them, so that no delivery
	// outlives Shutdown and every access log line is written below.
	s.dispatch.Wait()
	if s.poller != nil {
		s.poller.Close()
	}
	s.client.CloseIdleConnections() // the integrations' keep-alive connections
	err = errors.Join(err, s.closeAccessLogs(ctx))
	s.log.Info("stopped",
		slog.Int64("slowClientsClosed", s.stats.SlowClosed.Load()),
		slog.Int64("sendsRejectedQueueFull", s.stats.QueueRejected.Load()),
		slog.Int64("protocolCloses", s.stats.ProtocolClosed.Load()))
	return err
}
