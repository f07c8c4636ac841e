package config

import (
	"slices"
	"testing"
	"time"
)

func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Parse([]byte(text), env(map[string]string{"SB_SECRET": "s"}))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return c
}

// TestKeepRestartOnly: a reload keeps and reports exactly the settings
// that need a restart, and applies the others.
func TestKeepRestartOnly(t *testing.T) {
	running := mustParse(t, fullExample+`
reader: epoll
metrics: {listen: 127.0.0.1:9100}
`)
	running.TLS = &TLS{CertFile: "a.pem", KeyFile: "a.key", MinVersion: "1.2"} // parsing would read the files
	next := mustParse(t, `
listen: 127.0.0.1:9090
reader: goroutine
api: {name: other, routeSelectionExpression: $request.body.type}
stage:
  name: prod
  limits: {idleTimeout: 1m, maxMessageBytes: 1024, maxFrameBytes: 1024, maxConnections: 10, maxUrlLength: 100, messageRateLimit: 5, messageBurstLimit: 5, handshakeRateLimitPerIp: 1, handshakeBurstLimitPerIp: 1}
management: {auth: none}
integrations: {echo: {type: MOCK}}
routes: {$default: {integration: echo}}
metrics: {listen: 127.0.0.1:9200}
disconnectRetry: {queueSize: 5}
`)
	next.TLS = &TLS{CertFile: "b.pem", KeyFile: "b.key", MinVersion: "1.3"}
	nextTLS := next.TLS
	got := next.KeepRestartOnly(running)
	want := []string{
		"listen", "reader", "api.id", "api.name", "stage.name",
		"stage.limits.idleTimeout", "stage.limits.maxMessageBytes", "stage.limits.maxFrameBytes",
		"stage.limits.handshakeRateLimitPerIp", "stage.limits.handshakeBurstLimitPerIp",
		"tls.minVersion", "metrics", "disconnectRetry",
	}
	if !slices.Equal(got, want) {
		t.Errorf("reported %q\nwant     %q", got, want)
	}
	// Kept: the running values.
	if next.Listen != running.Listen || next.Reader != "epoll" || next.API.ID != "a1b2c3d4e5" || next.Stage.Name != "dev" {
		t.Errorf("kept: listen %q reader %q api.id %q stage %q", next.Listen, next.Reader, next.API.ID, next.Stage.Name)
	}
	l := next.Stage.Limits
	if l.IdleTimeout.D() != 10*time.Minute || l.MaxMessageBytes != DefaultMaxMessageBytes || l.HandshakeRateLimitPerIP != 0 {
		t.Errorf("restart-only limits not kept: %+v", l)
	}
	if next.Metrics.Listen != "127.0.0.1:9100" || next.DisconnectRetry.QueueSize != running.DisconnectRetry.QueueSize {
		t.Errorf("metrics %+v, disconnectRetry %+v", next.Metrics, next.DisconnectRetry)
	}
	// Applied: everything else.
	if l.MaxConnections != 10 || l.MaxURLLength != 100 || l.MessageRateLimit != 5 || l.MessageBurstLimit != 5 {
		t.Errorf("reloadable limits not applied: %+v", l)
	}
	if next.API.RouteSelectionExpression != "$request.body.type" || next.Management.Auth != AuthNone || len(next.Routes) != 1 {
		t.Errorf("reloadable settings not applied: %+v", next)
	}
	if next.TLS.CertFile != "b.pem" || next.TLS.MinVersion != running.TLS.MinVersion {
		t.Errorf("tls %+v: want the new files and the running minVersion", next.TLS)
	}
	if nextTLS.MinVersion != "1.3" {
		t.Errorf("the parsed tls section was written to: %+v", nextTLS)
	}
}

// TestKeepRestartOnlyTLSOnOff: turning TLS on or off needs a restart.
func TestKeepRestartOnlyTLSOnOff(t *testing.T) {
	withTLS := func() *Config {
		c := mustParse(t, fullExample)
		c.TLS = &TLS{CertFile: "a.pem", KeyFile: "a.key", MinVersion: "1.2"}
		return c
	}
	plain, secure := mustParse(t, fullExample), withTLS()
	if got := secure.KeepRestartOnly(plain); !slices.Equal(got, []string{"tls"}) || secure.TLS != nil {
		t.Errorf("on: reported %q, tls %+v", got, secure.TLS)
	}
	plain, secure = mustParse(t, fullExample), withTLS()
	if got := plain.KeepRestartOnly(secure); !slices.Equal(got, []string{"tls"}) || plain.TLS == nil {
		t.Errorf("off: reported %q, tls %+v", got, plain.TLS)
	}
	same := mustParse(t, fullExample)
	if got := same.KeepRestartOnly(mustParse(t, fullExample)); len(got) != 0 {
		t.Errorf("same file: reported %q", got)
	}
}
