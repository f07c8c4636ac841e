package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/switchboardgw/switchboard/internal/accesslog"
	"github.com/switchboardgw/switchboard/internal/config"
	"github.com/switchboardgw/switchboard/internal/dispatch"
	"github.com/switchboardgw/switchboard/internal/guard"
	"github.com/switchboardgw/switchboard/internal/jwtauth"
	"github.com/switchboardgw/switchboard/internal/management"
	"github.com/switchboardgw/switchboard/internal/route"
	"github.com/switchboardgw/switchboard/internal/sigv4"
)

// generation is everything built from one configuration that a reload
// replaces: handshakes, messages and @connections calls each load the one
// in use once and run on it to the end, so none sees half of a reload.
// A generation is never changed once built.
type generation struct {
	cfg        *config.Config
	routes     *dispatch.Routes
	guard      *guard.Guard
	proxies    guard.Proxies
	management *management.Handler
	// jwt is the guard's JWT authorizer, nil without one. The next
	// generation's shares its keys when it fetches the same JWKS: a JWKS
	// that cannot be fetched at the moment of a reload must not lock every
	// client out.
	jwt *jwtauth.Authorizer
}

// Config returns the configuration in use: the one given to New, or to
// the last successful Apply, with the restart-only settings of the first.
func (s *Server) Config() *config.Config { return s.cur.Load().cfg }

// Apply makes next the configuration in use, without a restart and
// without closing any connection: routes, integrations, models,
// throttles, authorizers, API keys, origins, trusted proxies, the
// @connections credentials and throttle, execution and access log
// settings all switch at once. The TLS certificate, the API keys file and
// the access log file (reopened, for log rotation) are read again.
// Settings that need a restart (see config.KeepRestartOnly) keep their
// running values; Apply returns their paths.
//
// If anything in next cannot be built (a file cannot be read, the JWKS
// URL is malformed), Apply returns the error and nothing changes. Route
// throttles and the REQUEST authorizer's cache start afresh; a JWT
// authorizer with the same key source shares the keys already fetched.
// Open connections keep their own state (their message rate limiter), and
// $disconnect deliveries waiting for a retry are retried on the new
// $disconnect route. Apply never waits for the access log's writer.
func (s *Server) Apply(next *config.Config) (restartOnly []string, err error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if s.stopping.Load() {
		return nil, errors.New("the gateway is shutting down")
	}
	old := s.cur.Load()
	cfg := *next // KeepRestartOnly writes to it; next stays the caller's
	restartOnly = cfg.KeepRestartOnly(old.cfg)
	p, err := s.prepare(&cfg, old.jwt)
	if err != nil {
		return restartOnly, err
	}
	s.install(p, old)
	if cfg.Management.Auth == config.AuthNone && old.cfg.Management.Auth != config.AuthNone {
		s.log.Warn("management API has no authentication (management.auth: none) from now on: anyone who reaches the listener can post to and close connections")
	}
	return restartOnly, nil
}

// Reload reads again what the configuration in use names: the TLS
// certificate and key, the API keys file, and the access log file
// (reopened, after a log rotator renamed it). On an error the old ones
// stay in use. It is Apply with the configuration in use.
func (s *Server) Reload() error {
	_, err := s.Apply(s.Config())
	return err
}

// prepared is a generation built and ready to be installed, with what
// installing it changes besides.
type prepared struct {
	gen  *generation
	cert *tls.Certificate // nil without TLS
	// log is the access log writer for gen: the one in use, or one opened
	// for it (opened); nil when gen has no access log. target, when set, is
	// the destination the writer in use moves to.
	log    *accesslog.Writer
	opened bool
	target *accesslog.Target
}

// isStdout reports whether an access log destination is standard output.
func isStdout(dest string) bool { return dest == "-" || dest == "stdout" }

// prepare builds a generation from cfg, with every step that can fail
// done: reading the TLS certificate and the API keys, opening the access
// log's destination, building a JWT authorizer (sharing prevJWT's keys
// when it can). On an error, whatever prepare started is stopped and
// nothing in use has changed. Nothing in it waits for the access log's
// writer, which may be stuck on a slow destination.
func (s *Server) prepare(cfg *config.Config, prevJWT *jwtauth.Authorizer) (p prepared, err error) {
	if cfg.TLS != nil {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return p, fmt.Errorf("tls: %w", err)
		}
		p.cert = &cert
	}
	inUse := s.accessLog.Load()
	if a := cfg.Stage.AccessLogSettings; a != nil {
		p.log = inUse
		switch {
		case inUse == nil:
			p.log, err = accesslog.Open(a.Destination, accesslog.Options{Logger: s.log})
			p.opened = err == nil
		case !isStdout(a.Destination) || !isStdout(inUse.Destination()):
			// Opened again even when unchanged: that is the reopen log
			// rotation needs. Retarget, in install, cannot fail.
			p.target, err = accesslog.OpenTarget(a.Destination)
		}
		if err != nil {
			return p, fmt.Errorf("stage.accessLogSettings.destination: %w", err)
		}
	}
	defer func() {
		if err != nil && p.opened {
			p.log.Close()
		}
		if err != nil && p.target != nil {
			p.target.Close()
		}
	}()

	g := &generation{cfg: cfg}
	routes, err := buildRoutes(cfg, s.lambdas, s.client)
	if err != nil {
		return p, err
	}
	selection, err := route.Compile(cfg.API.RouteSelectionExpression, route.Selection)
	if err != nil {
		return p, fmt.Errorf("api.routeSelectionExpression: %w", err)
	}
	checks, err := buildChecks(cfg, s.metrics, p.log)
	if err != nil {
		return p, err
	}
	for _, px := range cfg.TrustedProxies {
		prefix, err := config.ParsePrefix(px)
		if err != nil {
			return p, fmt.Errorf("trustedProxies: %w", err)
		}
		g.proxies = append(g.proxies, prefix)
	}
	if g.management, err = s.buildManagement(cfg); err != nil {
		return p, err
	}
	if g.guard, g.jwt, err = buildGuard(s.integrationCtx, cfg, s.lambdas, s.client, s.log, prevJWT); err != nil {
		return p, err
	}
	g.routes = s.dispatch.Build(selection, routes, dispatch.Stage{
		Name: cfg.Stage.Name, APIID: cfg.API.ID, Variables: cfg.Stage.Variables,
		MaxMessageBytes: cfg.Stage.Limits.MaxMessageBytes,
	}, checks)
	p.gen = g
	return p, nil
}

// install puts p in use in place of old (nil at start). It cannot fail.
func (s *Server) install(p prepared, old *generation) {
	if p.cert != nil {
		s.cert.Store(p.cert)
	}
	if p.target != nil {
		if err := p.log.Retarget(p.target); err != nil { // only on a closed writer: not while serving
			s.log.Error("access log", slog.String("error", err.Error()))
		}
	}
	retire := s.accessLog.Load()
	if p.log == retire {
		retire = nil
	}
	s.accessLog.Store(p.log)
	// The dispatcher first: a close handled on the new generation must not
	// reach the old $disconnect route.
	s.dispatch.Use(p.gen.routes)
	s.cur.Store(p.gen)
	if old != nil && old.jwt != nil {
		old.jwt.Close() // Authorize still works for handshakes under way
	}
	if old != nil {
		if quiet := time.Now().Add(inFlightBound(old.cfg)); quiet.After(s.logQuietAt) {
			s.logQuietAt = quiet
		}
	}
	if retire != nil {
		s.retire(retire, time.Until(s.logQuietAt))
	}
}

// retire closes an access log writer that a reload turned off, once the
// messages and handshakes that started before, under this configuration or
// an earlier one, have had time to log their lines (after). Its counts stay
// in switchboard_access_log_dropped_total.
func (s *Server) retire(w *accesslog.Writer, after time.Duration) {
	s.retiredMu.Lock()
	s.retired = append(s.retired, w)
	s.retiredMu.Unlock()
	time.AfterFunc(after, func() {
		w.Close()
		s.retiredMu.Lock()
		defer s.retiredMu.Unlock()
		if i := slices.Index(s.retired, w); i >= 0 {
			st := w.Stats()
			s.retiredDropped += st.Dropped
			s.retiredLost += st.Lost
			s.retired = slices.Delete(s.retired, i, i+1)
		}
	})
}

// accessLogLosses is the access log's lines dropped and lost since the
// start, over every writer.
func (s *Server) accessLogLosses() (dropped, lost uint64) {
	s.retiredMu.Lock()
	defer s.retiredMu.Unlock()
	dropped, lost = s.retiredDropped, s.retiredLost
	for _, w := range append(slices.Clone(s.retired), s.accessLog.Load()) {
		if w != nil {
			st := w.Stats()
			dropped, lost = dropped+st.Dropped, lost+st.Lost
		}
	}
	return dropped, lost
}

// inFlightBound is how long a message or handshake that started under cfg
// may still run: its longest authorizer call and its longest integration
// call, plus a margin.
func inFlightBound(cfg *config.Config) time.Duration {
	longest := 0
	for _, a := range cfg.Authorizers {
		longest = max(longest, a.TimeoutInMillis)
	}
	calls := longest
	longest = 0
	for _, in := range cfg.Integrations {
		longest = max(longest, in.TimeoutInMillis)
	}
	return time.Duration(calls+longest)*time.Millisecond + 5*time.Second
}

// buildManagement builds the @connections API handler: its credentials
// and its throttle.
func (s *Server) buildManagement(cfg *config.Config) (*management.Handler, error) {
	var verifier *sigv4.Verifier
	if cfg.Management.Auth == config.AuthSigV4 {
		creds := make([]sigv4.Credential, len(cfg.Management.Credentials))
		for i, c := range cfg.Management.Credentials {
			creds[i] = sigv4.Credential{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
		}
		verifier = sigv4.NewVerifier("execute-api", creds, cfg.Management.MaxClockSkew.D(), nil)
	}
	throttle, err := managementThrottle(cfg)
	if err != nil {
		return nil, err
	}
	return management.New(management.Options{
		Stage: cfg.Stage.Name, Conns: s.conns, Verifier: verifier,
		AllowBinary: s.opts.AllowBinary, IDs: s.ids, Log: s.log,
		Throttle: throttle, OnThrottle: s.metrics.ThrottledManagement,
	}), nil
}

// ReopenAccessLog reopens the access log file by its path, after a log
// rotator renamed it, and changes nothing else. It does nothing while
// access logs are off or go to standard output.
func (s *Server) ReopenAccessLog() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if w := s.accessLog.Load(); w != nil {
		return w.Reopen()
	}
	return nil
}
