package server

import (
	"crypto/tls"
	"errors"
	"fmt"
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
	jwt        *jwtAuthorizer // nil: $connect has no JWT authorizer
}

// jwtAuthorizer is a JWT authorizer and the options it was built with. A
// reload with the same options keeps it, and the keys it has fetched: a
// JWKS that cannot be fetched at the moment of a reload must not lock
// every client out.
type jwtAuthorizer struct {
	opts jwtauth.Options // Logger left out: it is not compared
	a    *jwtauth.Authorizer
}

// retireAfter is how long an access log writer that a reload turned off
// stays open, for the lines of messages still in flight.
const retireAfter = 30 * time.Second

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
// authorizer whose settings did not change is kept, with its keys. Open
// connections keep their own state (their message rate limiter), and
// $disconnect deliveries waiting for a retry are retried on the new
// $disconnect route.
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
	// for it (opened); nil when gen has no access log.
	log    *accesslog.Writer
	opened bool
}

// prepare builds a generation from cfg, with every side effect that can
// fail done: reading the TLS certificate and the API keys, opening the
// access log or pointing the one in use at its new destination. prevJWT is
// the JWT authorizer in use, kept if the new one would have the same
// options. On an error, whatever prepare started is stopped and nothing
// in use has changed.
func (s *Server) prepare(cfg *config.Config, prevJWT *jwtAuthorizer) (p prepared, err error) {
	if cfg.TLS != nil {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return p, fmt.Errorf("tls: %w", err)
		}
		p.cert = &cert
	}
	inUse := s.accessLog.Load()
	if a := cfg.Stage.AccessLogSettings; a != nil {
		if inUse != nil {
			p.log = inUse // pointed at a.Destination last, once nothing else can fail
		} else {
			if p.log, err = accesslog.Open(a.Destination, accesslog.Options{Logger: s.log}); err != nil {
				return p, fmt.Errorf("stage.accessLogSettings.destination: %w", err)
			}
			p.opened = true
		}
	}
	defer func() {
		if err != nil && p.opened {
			p.log.Close()
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
	if inUse != nil && p.log == inUse {
		if err := inUse.SetDestination(cfg.Stage.AccessLogSettings.Destination); err != nil {
			if g.jwt != nil && g.jwt != prevJWT {
				g.jwt.a.Close() // not needed after all
			}
			return p, fmt.Errorf("stage.accessLogSettings.destination: %w", err)
		}
	}
	g.routes = s.dispatch.Build(selection, routes, dispatch.Stage{
		Name: cfg.Stage.Name, APIID: cfg.API.ID, Variables: cfg.Stage.Variables,
		MaxMessageBytes: cfg.Stage.Limits.MaxMessageBytes,
	}, checks)
	p.gen = g
	return p, nil
}

// install puts p in use in place of old (nil at start).
func (s *Server) install(p prepared, old *generation) {
	if p.cert != nil {
		s.cert.Store(p.cert)
	}
	retire := s.accessLog.Load()
	if p.log == retire {
		retire = nil
	}
	s.accessLog.Store(p.log)
	s.cur.Store(p.gen)
	s.dispatch.Use(p.gen.routes)
	if old != nil && old.jwt != nil && (p.gen.jwt == nil || p.gen.jwt.a != old.jwt.a) {
		old.jwt.a.Close() // Authorize still works for handshakes under way
	}
	if retire != nil {
		// Access logs are off from now on; messages in flight may still
		// log a line.
		s.retired = append(s.retired, retire)
		time.AfterFunc(retireAfter, func() { retire.Close() })
	}
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
