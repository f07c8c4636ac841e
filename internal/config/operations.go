package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"time"

	"github.com/switchboardgw/switchboard/internal/model"
)

// RouteSettings are a stage's per-route settings, as API Gateway's
// DefaultRouteSettings and RouteSettings. Unset fields take the stage
// default, then the built-in default.
type RouteSettings struct {
	// ThrottlingBurstLimit and ThrottlingRateLimit throttle the route's
	// messages with a token bucket (burst = bucket size, rate = tokens per
	// second); a throttled message gets the "Too Many Requests" error frame.
	// Each route has its own bucket. Without either limit, no throttling;
	// with one, the other defaults to API Gateway's (burst 5000, rate
	// 10000); 0 refuses every message.
	ThrottlingBurstLimit *int     `yaml:"throttlingBurstLimit"`
	ThrottlingRateLimit  *float64 `yaml:"throttlingRateLimit"`
	// DetailedMetricsEnabled labels the route's metrics with its route key.
	// Default false.
	DetailedMetricsEnabled *bool `yaml:"detailedMetricsEnabled"`
	// LoggingLevel is the route's execution log: INFO (a line per message
	// handled), ERROR (only messages that failed) or OFF. Default OFF.
	// Failed integrations are logged as warnings whatever this says.
	LoggingLevel string `yaml:"loggingLevel"`
	// DataTraceEnabled adds the message and the integration's response
	// (each cut to 1 KiB) to the route's INFO execution log lines.
	// Default false.
	DataTraceEnabled *bool `yaml:"dataTraceEnabled"`
}

// Execution log levels.
const (
	LogOff   = "OFF"
	LogError = "ERROR"
	LogInfo  = "INFO"
)

// RouteLogging returns route key's execution log level and data trace
// setting: its own, then the stage default.
func (c *Config) RouteLogging(key string) (level string, dataTrace bool) {
	level = LogOff
	for _, s := range []*RouteSettings{&c.Stage.DefaultRouteSettings, c.Stage.RouteSettings[key]} {
		if s == nil {
			continue
		}
		if s.LoggingLevel != "" {
			level = s.LoggingLevel
		}
		if s.DataTraceEnabled != nil {
			dataTrace = *s.DataTraceEnabled
		}
	}
	return level, dataTrace
}

// AccessLogSettings turn on access logs: one line per connect, message and
// disconnect.
type AccessLogSettings struct {
	// Format is the line, with API Gateway's $context variables; it must
	// include $context.requestId. Required.
	Format string `yaml:"format"`
	// Destination is "stdout" or a file path (reopened on SIGHUP, for log
	// rotation). Default "stdout".
	Destination string `yaml:"destination"`
}

// Metrics configures the Prometheus and health endpoints.
type Metrics struct {
	// Listen is the address of /metrics, /healthz and /readyz, separate
	// from the gateway's listener. Required.
	Listen string `yaml:"listen"`
}

// Defaults of the operations settings.
const (
	DefaultThrottlingBurstLimit = 5000
	DefaultThrottlingRateLimit  = 10000.0
	DefaultAccessLogDestination = "stdout"
)

// DefaultDrainWindow is drainWindow's default.
const DefaultDrainWindow = 2 * time.Second

// Drain is the drain window: drainWindow, or its default.
func (c *Config) Drain() time.Duration {
	if c.DrainWindow == nil {
		return DefaultDrainWindow
	}
	return c.DrainWindow.D()
}

func (c *Config) applyOperationsDefaults() {
	if a := c.Stage.AccessLogSettings; a != nil {
		setDefault(&a.Destination, DefaultAccessLogDestination)
	}
}

// EffectiveRouteSettings returns the settings of route key: its own,
// then the stage default. throttled is false when neither sets a
// throttling limit: unlike API Gateway, whose account-wide quota always
// applies, Switchboard throttles only what is configured. When one of
// the two limits is set, the other takes API Gateway's default.
func (c *Config) EffectiveRouteSettings(key string) (burst int, rate float64, throttled, detailed bool) {
	burst, rate = DefaultThrottlingBurstLimit, DefaultThrottlingRateLimit
	for _, s := range []*RouteSettings{&c.Stage.DefaultRouteSettings, c.Stage.RouteSettings[key]} {
		if s == nil {
			continue
		}
		if s.ThrottlingBurstLimit != nil {
			burst, throttled = *s.ThrottlingBurstLimit, true
		}
		if s.ThrottlingRateLimit != nil {
			rate, throttled = *s.ThrottlingRateLimit, true
		}
		if s.DetailedMetricsEnabled != nil {
			detailed = *s.DetailedMetricsEnabled
		}
	}
	return burst, rate, throttled, detailed
}

// ModelSchemas returns each model's schema as JSON text.
func (c *Config) ModelSchemas() (map[string]string, error) {
	out := make(map[string]string, len(c.Models))
	for name, m := range c.Models {
		text, err := schemaText(m)
		if err != nil {
			return nil, fmt.Errorf("models.%s: %w", name, err)
		}
		out[name] = text
	}
	return out, nil
}

// ModelSet compiles the models and the routes' model settings.
func (c *Config) ModelSet() (*model.Set, error) {
	schemas, err := c.ModelSchemas()
	if err != nil {
		return nil, err
	}
	routes := map[string]model.Route{}
	for key, r := range c.Routes {
		if r != nil && (r.ModelSelectionExpression != "" || len(r.RequestModels) > 0) {
			routes[key] = model.Route{ModelSelectionExpression: r.ModelSelectionExpression, RequestModels: r.RequestModels}
		}
	}
	if len(schemas) == 0 && len(routes) == 0 {
		return nil, nil
	}
	return model.New(model.Options{Models: schemas, Routes: routes, MaxMessageBytes: c.Stage.Limits.MaxMessageBytes})
}

// schemaText turns a model as written in YAML (a mapping, or a string of
// JSON) into JSON text.
func schemaText(m any) (string, error) {
	if s, ok := m.(string); ok {
		if !json.Valid([]byte(s)) {
			return "", fmt.Errorf("not valid JSON")
		}
		return s, nil
	}
	b, err := json.Marshal(jsonable(m))
	if err != nil {
		return "", fmt.Errorf("cannot be written as JSON: %v", err)
	}
	return string(b), nil
}

// jsonable converts YAML-decoded values (map[string]any, []any, scalars)
// so encoding/json accepts them.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = jsonable(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonable(e)
		}
		return out
	}
	return v
}

func (c *Config) validateOperations(add func(string, string, ...any)) {
	checkSettings := func(path string, s *RouteSettings) {
		if s == nil {
			return
		}
		if b := s.ThrottlingBurstLimit; b != nil && *b < 0 {
			add(path+".throttlingBurstLimit", "must not be negative")
		}
		if r := s.ThrottlingRateLimit; r != nil && (*r < 0 || math.IsNaN(*r) || math.IsInf(*r, 0)) {
			add(path+".throttlingRateLimit", "want a number of requests per second, 0 or more")
		}
		switch s.LoggingLevel {
		case "", LogOff, LogError, LogInfo:
		default:
			add(path+".loggingLevel", "%q: want INFO, ERROR or OFF", s.LoggingLevel)
		}
	}
	checkSettings("stage.defaultRouteSettings", &c.Stage.DefaultRouteSettings)
	checkSettings("management", &RouteSettings{ThrottlingRateLimit: c.Management.ThrottlingRateLimit, ThrottlingBurstLimit: c.Management.ThrottlingBurstLimit})
	for _, key := range sortedKeys(c.Stage.RouteSettings) {
		path := "stage.routeSettings." + key
		if _, ok := c.Routes[key]; !ok {
			add(path, "no route %q%s", key, suggest(key, sortedKeys(c.Routes)))
		}
		checkSettings(path, c.Stage.RouteSettings[key])
	}
	if a := c.Stage.AccessLogSettings; a != nil {
		if a.Format == "" {
			add("stage.accessLogSettings.format", "required")
		}
		if a.Destination != "stdout" && strings.TrimSpace(a.Destination) == "" {
			add("stage.accessLogSettings.destination", "want stdout or a file path")
		}
	}
	if m := c.Metrics; m != nil {
		if _, _, err := net.SplitHostPort(m.Listen); err != nil {
			add("metrics.listen", "want host:port: %v", err)
		} else if m.Listen == c.Listen {
			add("metrics.listen", "must differ from listen")
		}
	}
	for _, name := range sortedKeys(c.Models) {
		if _, err := schemaText(c.Models[name]); err != nil {
			add("models."+name, "%v", err)
		}
	}
	if _, err := c.ModelSet(); err != nil {
		// Each problem at its path: models.NAME or routes.KEY.
		errs := []error{err}
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			errs = joined.Unwrap()
		}
		for _, err := range errs {
			var ce *model.ConfigError
			switch {
			case !errors.As(err, &ce):
				add("models", "%v", err)
			case ce.Model != "":
				add("models."+ce.Model, "%v", ce.Err)
			default:
				add("routes."+ce.Route, "%v", ce.Err)
			}
		}
	}
	if d := c.Drain(); d < 0 || d >= c.ShutdownTimeout.D() {
		add("drainWindow", "%v: want 0 or more, and less than shutdownTimeout (%v)", d, c.ShutdownTimeout.D())
	}
	l := c.Stage.Limits
	if l.MessageRateLimit < 0 || math.IsNaN(l.MessageRateLimit) || math.IsInf(l.MessageRateLimit, 0) {
		add("stage.limits.messageRateLimit", "want messages per second, 0 (no limit) or more")
	}
	if l.MessageBurstLimit < 0 {
		add("stage.limits.messageBurstLimit", "must not be negative")
	}
	if l.MessageRateLimit > 0 && l.MessageBurstLimit == 0 {
		add("stage.limits.messageBurstLimit", "required with messageRateLimit (at least 1)")
	}
	if l.HandshakeRateLimitPerIP < 0 || math.IsNaN(l.HandshakeRateLimitPerIP) || math.IsInf(l.HandshakeRateLimitPerIP, 0) {
		add("stage.limits.handshakeRateLimitPerIp", "want handshakes per second, 0 (no limit) or more")
	}
	if l.HandshakeBurstLimitPerIP < 0 {
		add("stage.limits.handshakeBurstLimitPerIp", "must not be negative")
	}
	if l.HandshakeRateLimitPerIP > 0 && l.HandshakeBurstLimitPerIP == 0 {
		add("stage.limits.handshakeBurstLimitPerIp", "required with handshakeRateLimitPerIp (at least 1)")
	}
	if l.MaxConnectionsPerIP < 0 {
		add("stage.limits.maxConnectionsPerIp", "must not be negative")
	}
}
