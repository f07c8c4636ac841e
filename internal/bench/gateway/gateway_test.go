package gateway

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboardgw/switchboard/internal/accesslog"
	"github.com/switchboardgw/switchboard/internal/config"
)

// TestConfigsLoad checks every shape of generated configuration against
// the gateway's own loader and validator.
func TestConfigsLoad(t *testing.T) {
	base := Config{Listen: "127.0.0.1:1234", AccessKeyID: "AKIDBENCH", SecretAccessKey: "secret"}
	cases := map[string]Config{
		"mock echo":            base,
		"mock echo and whoami": withWhoAmI(base),
		"routed": func() Config {
			c := base
			c.DefaultURL = "http://127.0.0.1:9/message"
			return c
		}(),
		"connect and disconnect": func() Config {
			c := base
			c.ConnectURL, c.DisconnectURL = "http://127.0.0.1:9/connect", "http://127.0.0.1:9/disconnect"
			c.Stage = "bench"
			return c
		}(),
		"access logs and metrics": func() Config {
			c := base
			c.AccessLog, c.Metrics, c.MetricsListen = "/tmp/bench access.log", true, "127.0.0.1:5678"
			return c
		}(),
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, cfg.YAML(), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := config.Load(path)
			if err != nil {
				t.Fatalf("generated configuration does not load: %v\n%s", err, cfg.YAML())
			}
			if got.Listen != cfg.Listen {
				t.Errorf("listen = %q, want %q", got.Listen, cfg.Listen)
			}
			if len(got.Management.Credentials) != 1 || got.Management.Credentials[0].AccessKeyID != "AKIDBENCH" {
				t.Errorf("credentials = %+v", got.Management.Credentials)
			}
			def := got.Routes["$default"]
			if def == nil || def.RouteResponseSelectionExpression != "$default" {
				t.Fatalf("$default route = %+v, want two-way", def)
			}
			in := got.Integrations[def.Integration]
			if cfg.DefaultURL != "" && (in.Type != config.TypeAWSProxy || in.URI != cfg.DefaultURL) {
				t.Errorf("$default integration = %+v, want AWS_PROXY %s", in, cfg.DefaultURL)
			}
			if cfg.DefaultURL == "" && (in.Type != config.TypeMock || in.Response == nil || in.Response.Body != "$request.body") {
				t.Errorf("$default integration = %+v, want a MOCK echo", in)
			}
			_, hasConnect := got.Routes["$connect"]
			_, hasDisconnect := got.Routes["$disconnect"]
			_, hasWhoAmI := got.Routes["whoami"]
			if hasConnect != (cfg.ConnectURL != "") || hasDisconnect != (cfg.DisconnectURL != "") || hasWhoAmI != cfg.WhoAmI {
				t.Errorf("routes = %v", keys(got.Routes))
			}
			checkOperations(t, cfg, got)
		})
	}
}

// checkOperations checks the access log and metrics settings of got,
// loaded from cfg.
func checkOperations(t *testing.T, cfg Config, got *config.Config) {
	t.Helper()
	if al := got.Stage.AccessLogSettings; (al != nil) != (cfg.AccessLog != "") {
		t.Errorf("accessLogSettings = %+v, want destination %q", al, cfg.AccessLog)
	} else if al != nil {
		if al.Destination != cfg.AccessLog || al.Format != AccessLogFormat {
			t.Errorf("accessLogSettings = %+v", al)
		}
		if _, err := accesslog.Compile(al.Format); err != nil {
			t.Errorf("AccessLogFormat does not compile: %v", err)
		}
		var fields map[string]string
		if err := json.Unmarshal([]byte(AccessLogFormat), &fields); err != nil || len(fields) != 8 {
			t.Errorf("AccessLogFormat should be JSON with 8 fields: %v, %v", fields, err)
		}
	}
	if m := got.Metrics; (m != nil) != cfg.Metrics || (m != nil && m.Listen != cfg.MetricsListen) {
		t.Errorf("metrics = %+v, want listen %q", m, cfg.MetricsListen)
	}
	if _, _, throttled, detailed := got.EffectiveRouteSettings("$default"); detailed != cfg.Metrics || throttled {
		t.Errorf("$default: detailed metrics %v (want %v), throttled %v (want false)", detailed, cfg.Metrics, throttled)
	}
}

func withWhoAmI(c Config) Config { c.WhoAmI = true; return c }

func keys[V any](m map[string]V) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return strings.Join(ks, ",")
}

func TestFindRepo(t *testing.T) {
	repo, err := FindRepo(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(repo, "cmd", "switchboard")); err != nil {
		t.Errorf("FindRepo = %s, which has no cmd/switchboard", repo)
	}
	if _, err := FindRepo(t.TempDir()); err == nil {
		t.Error("FindRepo outside the repository should fail")
	}
}
