package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/switchboardgw/switchboard/internal/accesslog"
	"github.com/switchboardgw/switchboard/internal/authorizer"
	"github.com/switchboardgw/switchboard/internal/config"
	"github.com/switchboardgw/switchboard/internal/dispatch"
	"github.com/switchboardgw/switchboard/internal/guard"
	"github.com/switchboardgw/switchboard/internal/integration"
	"github.com/switchboardgw/switchboard/internal/integration/awsproxy"
	"github.com/switchboardgw/switchboard/internal/integration/httpproxy"
	"github.com/switchboardgw/switchboard/internal/integration/mock"
	"github.com/switchboardgw/switchboard/internal/jwtauth"
	"github.com/switchboardgw/switchboard/internal/metrics"
	"github.com/switchboardgw/switchboard/internal/route"
	"github.com/switchboardgw/switchboard/internal/sigv4"
	"github.com/switchboardgw/switchboard/internal/throttle"
)

// buildRoutes turns the configured integrations and routes into compiled
// routes. Integrations are built once and shared by the routes naming them.
func buildRoutes(cfg *config.Config, lambdas *awsproxy.LambdaClients, client *http.Client) (map[string]*dispatch.Route, error) {
	built := make(map[string]integration.Integration, len(cfg.Integrations))
	for name, in := range cfg.Integrations {
		ig, err := buildIntegration(cfg, in, lambdas, client)
		if err != nil {
			return nil, fmt.Errorf("integrations.%s: %w", name, err)
		}
		built[name] = ig
	}
	routes := make(map[string]*dispatch.Route, len(cfg.Routes))
	for key, r := range cfg.Routes {
		_, _, _, detailed := cfg.EffectiveRouteSettings(key)
		routes[key] = &dispatch.Route{
			Key:             key,
			Integration:     built[r.Integration],
			Timeout:         time.Duration(cfg.Integrations[r.Integration].TimeoutInMillis) * time.Millisecond,
			TwoWay:          r.RouteResponseSelectionExpression != "",
			DetailedMetrics: detailed,
		}
	}
	return routes, nil
}

func buildIntegration(cfg *config.Config, in *config.Integration, lambdas *awsproxy.LambdaClients, client *http.Client) (integration.Integration, error) {
	uri, _ := cfg.SubstituteStageVariables(in.URI)
	switch in.Type {
	case config.TypeAWSProxy:
		return awsproxy.New(uri, lambdas, client)
	case config.TypeHTTPProxy:
		return httpproxy.New(in.IntegrationMethod, uri, in.RequestParameters, cfg.Stage.Variables, client)
	case config.TypeMock:
		return mock.New(in.Response, cfg.Stage.Variables)
	}
	return nil, fmt.Errorf("unknown integration type %q", in.Type)
}

// buildGuard builds the checks on upgrade requests: origins, $connect's
// authorization and API keys. Its JWT authorizer, returned with the guard
// for the caller to close when the guard goes out of use, shares prevJWT's
// keys when it can, so that a reload does not fetch them again (closed
// again if buildGuard fails).
func buildGuard(ctx context.Context, cfg *config.Config, lambdas *awsproxy.LambdaClients, client *http.Client, log *slog.Logger, prevJWT *jwtauth.Authorizer) (g *guard.Guard, jwt *jwtauth.Authorizer, err error) {
	var built *jwtauth.Authorizer // jwt, which a failed return sets to nil
	defer func() {
		if err != nil && built != nil {
			built.Close() // releases its keys
		}
	}()
	opts := guard.Options{Log: log, RequireOrigin: cfg.Origins.RequireOrigin}
	if len(cfg.Origins.Allow) > 0 {
		o, err := guard.NewOrigins(cfg.Origins.Allow)
		if err != nil {
			return nil, nil, fmt.Errorf("origins: %w", err)
		}
		opts.Origins = o
	}
	connect := cfg.Routes[route.Connect]
	if connect == nil {
		g, err := guard.New(opts)
		return g, nil, err
	}
	switch connect.AuthorizationType {
	case config.AuthorizationIAM:
		creds := make([]sigv4.Credential, len(cfg.IAM.Credentials))
		opts.IAMIdentities = make(map[string]guard.Identity, len(creds))
		for i, c := range cfg.IAM.Credentials {
			creds[i] = sigv4.Credential{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
			opts.IAMIdentities[c.AccessKeyID] = guard.Identity{AccountID: c.AccountID, Caller: c.Caller, User: c.User, UserArn: c.UserArn}
		}
		opts.IAM = sigv4.NewVerifier("execute-api", creds, cfg.IAM.MaxClockSkew.D(), nil)
	case config.AuthorizationCustom:
		a := cfg.Authorizers[connect.AuthorizerID]
		path := "authorizers." + connect.AuthorizerID
		// Optional for REQUEST: without one, every upgrade reaches the authorizer.
		var sources []authorizer.Source
		if strings.TrimSpace(a.IdentitySource) != "" {
			var err error
			if sources, err = authorizer.ParseIdentitySource(a.IdentitySource); err != nil {
				return nil, nil, fmt.Errorf("%s.identitySource: %w", path, err)
			}
		}
		uri, _ := cfg.SubstituteStageVariables(a.URI)
		inv, err := authorizer.NewInvoker(uri, lambdas, client)
		if err != nil {
			return nil, nil, fmt.Errorf("%s.uri: %w", path, err)
		}
		opts.Custom, err = authorizer.New(authorizer.Options{
			Name: connect.AuthorizerID, IdentitySources: sources, Invoker: inv,
			Timeout:         time.Duration(a.TimeoutInMillis) * time.Millisecond,
			CacheTTL:        time.Duration(a.AuthorizerResultTTLInSeconds) * time.Second,
			CacheMaxEntries: a.CacheMaxEntries,
			Region:          cfg.API.Region, AccountID: cfg.API.AccountID, APIID: cfg.API.ID, Stage: cfg.Stage.Name,
			Logger: log,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
	case config.AuthorizationJWT:
		a := cfg.Authorizers[connect.AuthorizerID]
		path := "authorizers." + connect.AuthorizerID
		sources, err := authorizer.ParseIdentitySource(a.IdentitySource)
		if err != nil || len(sources) != 1 {
			return nil, nil, fmt.Errorf("%s.identitySource: want one source, the token: %v", path, err)
		}
		opts.JWTSource = sources[0]
		j := a.JWTConfiguration
		jo := jwtauth.Options{
			Issuer: j.Issuer, Audiences: j.Audience, JWKSURL: j.JWKSURI, Algorithms: j.Algorithms,
			Leeway: j.Leeway.D(), AuthorizationScopes: connect.AuthorizationScopes,
			RefreshInterval: j.RefreshInterval.D(), UnknownKIDRefreshInterval: j.UnknownKIDRefreshInterval.D(),
		}
		jo.Logger = log.With(slog.String("authorizer", connect.AuthorizerID))
		if prevJWT != nil {
			jwt, err = prevJWT.Share(jo)
		}
		if prevJWT == nil || errors.Is(err, jwtauth.ErrOtherKeys) || errors.Is(err, jwtauth.ErrClosed) {
			jwt, err = jwtauth.New(ctx, jo)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		built, opts.JWT = jwt, jwt
	}
	if connect.APIKeyRequired {
		opts.APIKeyRequired = true
		opts.APIKeyFromAuthorizer = cfg.API.APIKeySelectionExpression == config.APIKeyFromAuthorizer
		keys, err := loadKeys(cfg)
		if err != nil {
			return nil, nil, err
		}
		opts.Keys = keys
	}
	g, err = guard.New(opts)
	return g, jwt, err
}

// loadKeys reads the API keys of the configuration and its keys file.
func loadKeys(cfg *config.Config) ([]guard.Key, error) {
	keys := make([]guard.Key, 0, len(cfg.APIKeys))
	for i, k := range cfg.APIKeys {
		if k.Value != "" {
			keys = append(keys, guard.KeyFromValue(k.ID, k.Value))
			continue
		}
		key, err := guard.KeyFromHex(k.ID, k.SHA256)
		if err != nil {
			return nil, fmt.Errorf("apiKeys[%d]: %w", i, err)
		}
		keys = append(keys, key)
	}
	if cfg.APIKeysFile != "" {
		more, err := guard.ReadKeysFile(cfg.APIKeysFile)
		if err != nil {
			return nil, fmt.Errorf("apiKeysFile: %w", err)
		}
		keys = append(keys, more...)
	}
	return keys, nil
}

// buildChecks builds what every message passes and where it is counted
// and logged: request models, route and connection throttles, execution
// logs, and the access log format. m and w, the metrics and the access log
// writer (nil when off), outlive configurations: they are the server's.
func buildChecks(cfg *config.Config, m *metrics.Metrics, w *accesslog.Writer) (dispatch.Checks, error) {
	c := dispatch.Checks{Metrics: m, AccessLog: w}
	var err error
	if c.Models, err = cfg.ModelSet(); err != nil {
		return c, fmt.Errorf("models: %w", err)
	}

	keys := make([]string, 0, len(cfg.Routes))
	limits := make(map[string]throttle.Limit, len(cfg.Routes))
	for key := range cfg.Routes {
		keys = append(keys, key)
		if burst, rate, throttled, _ := cfg.EffectiveRouteSettings(key); throttled {
			limits[key] = throttle.Limit{Rate: rate, Burst: burst}
		}
	}
	if len(limits) > 0 {
		// Routes without limits are not in Routes and, with no Default,
		// unlimited.
		if c.Throttle, err = throttle.NewStage(throttle.StageOptions{Routes: limits, Keys: keys}); err != nil {
			return c, fmt.Errorf("stage.routeSettings: %w", err)
		}
	}
	if l := cfg.Stage.Limits; l.MessageRateLimit > 0 {
		rate, err := throttle.NewRate(throttle.Limit{Rate: l.MessageRateLimit, Burst: l.MessageBurstLimit})
		if err != nil {
			return c, fmt.Errorf("stage.limits.messageRateLimit: %w", err)
		}
		c.ConnRate = &rate
	}

	c.Logging = map[string]dispatch.RouteLogging{}
	for key := range cfg.Routes {
		switch level, trace := cfg.RouteLogging(key); level {
		case config.LogInfo:
			c.Logging[key] = dispatch.RouteLogging{Level: slog.LevelInfo, DataTrace: trace}
		case config.LogError:
			c.Logging[key] = dispatch.RouteLogging{Level: slog.LevelError}
		}
	}

	if a := cfg.Stage.AccessLogSettings; a != nil {
		if c.LogFormat, err = accesslog.Compile(a.Format); err != nil {
			return c, fmt.Errorf("stage.accessLogSettings.format: %w", err)
		}
	}
	return c, nil
}

// newMetrics builds the gateway's metrics; nil without a metrics section.
func newMetrics(cfg *config.Config, s *Server) (*metrics.Metrics, error) {
	if cfg.Metrics == nil {
		return nil, nil
	}
	m, err := metrics.New(metrics.Options{
		APIID: cfg.API.ID, Stage: cfg.Stage.Name,
		OpenConnections: s.Connections,
		Session: func() metrics.SessionCounts {
			return metrics.SessionCounts{SlowClosed: s.stats.SlowClosed.Load(),
				QueueRejected: s.stats.QueueRejected.Load(), ProtocolClosed: s.stats.ProtocolClosed.Load()}
		},
		// Over every writer: a reload may turn access logs on or off.
		AccessLog: s.accessLogLosses,
	})
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return m, nil
}

// buildIPLimits builds the per-source-IP handshake rate and connection
// count limits; nil when there are none.
func buildIPLimits(cfg *config.Config) (*throttle.IPs, error) {
	l := cfg.Stage.Limits
	opts := throttle.IPOptions{MaxConns: l.MaxConnectionsPerIP}
	if l.HandshakeRateLimitPerIP > 0 {
		opts.Handshakes = &throttle.Limit{Rate: l.HandshakeRateLimitPerIP, Burst: l.HandshakeBurstLimitPerIP}
	}
	ips, err := throttle.NewIPs(opts)
	if err != nil {
		return nil, fmt.Errorf("stage.limits: %w", err)
	}
	return ips, nil
}

// managementThrottle is the @connections API's token bucket; nil when
// none is configured.
func managementThrottle(cfg *config.Config) (*throttle.Bucket, error) {
	m := cfg.Management
	if m.ThrottlingRateLimit == nil && m.ThrottlingBurstLimit == nil {
		return nil, nil
	}
	l := throttle.Limit{Rate: config.DefaultThrottlingRateLimit, Burst: config.DefaultThrottlingBurstLimit}
	if m.ThrottlingRateLimit != nil {
		l.Rate = *m.ThrottlingRateLimit
	}
	if m.ThrottlingBurstLimit != nil {
		l.Burst = *m.ThrottlingBurstLimit
	}
	b, err := throttle.NewBucket(l)
	if err != nil {
		return nil, fmt.Errorf("management: %w", err)
	}
	return b, nil
}
