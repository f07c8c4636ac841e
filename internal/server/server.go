// Package server is Switchboard's composition root: it builds the route
// table, integrations, registry, management API and session limits from a
// configuration, serves WebSocket clients and the @connections API on one
// listener, and drains connections on shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboardgw/switchboard/internal/config"
	"github.com/switchboardgw/switchboard/internal/dispatch"
	"github.com/switchboardgw/switchboard/internal/guard"
	"github.com/switchboardgw/switchboard/internal/integration"
	"github.com/switchboardgw/switchboard/internal/integration/awsproxy"
	"github.com/switchboardgw/switchboard/internal/management"
	"github.com/switchboardgw/switchboard/internal/netpoll"
	"github.com/switchboardgw/switchboard/internal/registry"
	"github.com/switchboardgw/switchboard/internal/route"
	"github.com/switchboardgw/switchboard/internal/session"
	"github.com/switchboardgw/switchboard/internal/sigv4"
	"github.com/switchboardgw/switchboard/internal/throttle"
)

// closeGrace is how long a closing connection waits for the client's
// close frame before the TCP connection is dropped.
const closeGrace = 3 * time.Second

// Server is one running gateway.
type Server struct {
	cfg        *config.Config
	log        *slog.Logger
	ids        *registry.IDs
	conns      *registry.Registry[*session.Conn]
	dispatch   *dispatch.Dispatcher
	management *management.Handler
	opts       session.Options
	stats      session.Stats
	http       *http.Server
	httpIn     *handoffListener // connections net/http serves
	stagePath  string
	poller     *netpoll.Poller // nil: a goroutine per connection
	guard      *guard.Guard
	checks     dispatch.Checks // models, throttles, metrics, access log
	ips        *throttle.IPs   // per-source-IP limits; nil: none
	proxies    guard.Proxies
	tlsConfig  *tls.Config                     // nil: plain ws:// and http://
	cert       atomic.Pointer[tls.Certificate] // the served certificate; replaced by Reload
	scheme     string                          // "http" or "https", for X-Forwarded-Proto

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
	lambdas, client := awsproxy.NewLambdaClients(), integration.NewHTTPClient()
	routes, err := buildRoutes(cfg, lambdas, client)
	if err != nil {
		return nil, err
	}
	selection, err := route.Compile(cfg.API.RouteSelectionExpression, route.Selection)
	if err != nil {
		return nil, fmt.Errorf("api.routeSelectionExpression: %w", err)
	}
	s := &Server{
		cfg:       cfg,
		log:       log,
		ids:       registry.NewIDs(),
		conns:     registry.New[*session.Conn](),
		stagePath: "/" + cfg.Stage.Name,
		fresh:     map[net.Conn]struct{}{},
	}
	s.integrationCtx, s.cancelIntegration = context.WithCancel(context.Background())
	defer func() {
		if err != nil { // stop what was started: JWKS refreshes, the access log writer
			s.cancelIntegration()
			if s.checks.AccessLog != nil {
				s.checks.AccessLog.Close()
			}
		}
	}()
	if s.guard, err = buildGuard(s.integrationCtx, cfg, lambdas, client, log); err != nil {
		return nil, err
	}
	if s.checks, err = buildChecks(cfg, s); err != nil {
		return nil, err
	}
	if s.ips, err = buildIPLimits(cfg); err != nil {
		return nil, err
	}
	for _, p := range cfg.TrustedProxies {
		prefix, err := config.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("trustedProxies: %w", err)
		}
		s.proxies = append(s.proxies, prefix)
	}
	s.scheme = "http"
	if cfg.TLS != nil {
		if err := s.loadCertificate(); err != nil {
			return nil, err
		}
		s.scheme = "https"
		s.tlsConfig = &tls.Config{
			MinVersion: cfg.TLS.TLSVersion(),
			NextProtos: []string{"http/1.1"}, // WebSocket upgrades need HTTP/1.1
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return s.cert.Load(), nil
			},
		}
	}
	s.dispatch = dispatch.New(s.integrationCtx, selection, routes, dispatch.Stage{
		Name: cfg.Stage.Name, APIID: cfg.API.ID, Variables: cfg.Stage.Variables,
		MaxMessageBytes: cfg.Stage.Limits.MaxMessageBytes,
	}, s.checks, s.ids, log)
	retry := cfg.DisconnectRetry
	s.dispatch.SetDisconnectRetry(dispatch.DisconnectRetry{
		QueueSize: retry.QueueSize, Window: retry.Window(), InitialBackoff: retry.InitialBackoff.D(), MaxBackoff: retry.MaxBackoff.D(),
	})

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

	if cfg.Reader != config.ReaderGoroutine {
		p, err := netpoll.New()
		switch {
		case err == nil:
			s.poller = p
		case cfg.Reader == config.ReaderEpoll:
			return nil, fmt.Errorf("reader: %w", err)
		}
	}

	var verifier *sigv4.Verifier
	if cfg.Management.Auth == config.AuthSigV4 {
		creds := make([]sigv4.Credential, len(cfg.Management.Credentials))
		for i, c := range cfg.Management.Credentials {
			creds[i] = sigv4.Credential{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
		}
		verifier = sigv4.NewVerifier("execute-api", creds, cfg.Management.MaxClockSkew.D(), nil)
	}
	mgmtThrottle, err := managementThrottle(cfg)
	if err != nil {
		return nil, err
	}
	s.management = management.New(management.Options{
		Stage: cfg.Stage.Name, Conns: s.conns, Verifier: verifier,
		AllowBinary: s.opts.AllowBinary, IDs: s.ids, Log: log,
		Throttle: mgmtThrottle, OnThrottle: s.checks.Metrics.ThrottledManagement,
	})

	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: l.HandshakeTimeout.D(),
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ConnState:         s.trackFresh,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.Management.Auth == config.AuthNone {
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
	s.checks.Metrics.SetReady(true)
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
	if r.ContentLength != 0 && !s.management.Matches(path) {
		// Only the management API reads a body (under its own deadline).
		// net/http drains one left unread, before the answer and after it,
		// with no deadline: bound that, or a client that never sends its
		// body would hold the connection forever.
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.Stage.Limits.HandshakeTimeout.D()))
	}
	switch {
	case s.isStagePath(path):
		// checkUpgrade refuses a body: no upgraded connection keeps the
		// deadline above.
		s.upgradeHTTP(w, r)
	case s.management.Matches(path):
		s.management.ServeHTTP(w, r)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-amzn-ErrorType", "ForbiddenException")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"message":"Forbidden"}`))
	}
}

// HandleMessage implements session.Handler.
func (s *Server) HandleMessage(c *session.Conn, msg []byte, binary bool) {
	s.dispatch.HandleMessage(c, msg, binary)
}

// HandleClose implements session.Handler: the connection leaves the
// registry (so @connections answers 410) and $disconnect runs.
func (s *Server) HandleClose(c *session.Conn, code int, reason string) {
	s.conns.Remove(c.ID)
	s.releaseIP(c.SourceIP)
	s.dispatch.HandleClose(&c.Info, code, reason)
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

// Reload reads again what may change without a restart: the TLS
// certificate and key, and the API keys file; and reopens the access log
// file (for log rotation). On an error the old ones
// stay in use. Connections already open are not affected.
func (s *Server) Reload() error {
	var errs []error
	if s.tlsConfig != nil {
		errs = append(errs, s.loadCertificate())
	}
	if s.checks.AccessLog != nil {
		errs = append(errs, s.checks.AccessLog.Reopen())
	}
	if s.cfg.APIKeysFile != "" && s.guard != nil {
		keys, err := loadKeys(s.cfg)
		if err == nil {
			err = s.guard.SetKeys(keys)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s *Server) loadCertificate() error {
	cert, err := tls.LoadX509KeyPair(s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	s.cert.Store(&cert)
	return nil
}

// MetricsHandler serves /metrics, /healthz and /readyz; nil without a
// metrics section in the configuration.
func (s *Server) MetricsHandler() http.Handler {
	if s.checks.Metrics == nil {
		return nil
	}
	return s.checks.Metrics.Handler()
}

// drain closes every connection with 1001 "Going away", spread evenly
// over the drain window in small batches, or at once when ctx ends first.
func (s *Server) drain(ctx context.Context) {
	conns := s.conns.Snapshot()
	window := s.cfg.Drain()
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

// Connections returns the number of open connections.
func (s *Server) Connections() int { return int(s.liveCount.Load()) }

// Stats returns the session counters.
func (s *Server) Stats() *session.Stats { return &s.stats }

// Shutdown stops the gateway in stages: stop accepting, close every
// connection with 1001 "Going away" while pending handshakes finish, wait
// for the connections to end and their $disconnect deliveries, and give up
// on whatever is left when ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.checks.Metrics.SetDraining() // /readyz fails from now on
	s.freshMu.Lock()               // addFresh checks stopping under this lock
	s.stopping.Store(true)
	s.freshMu.Unlock()
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
	if s.checks.AccessLog != nil {
		s.checks.AccessLog.Close() // flushes: every line logged so far is written
	}
	s.log.Info("stopped",
		slog.Int64("slowClientsClosed", s.stats.SlowClosed.Load()),
		slog.Int64("sendsRejectedQueueFull", s.stats.QueueRejected.Load()),
		slog.Int64("protocolCloses", s.stats.ProtocolClosed.Load()))
	return err
}
