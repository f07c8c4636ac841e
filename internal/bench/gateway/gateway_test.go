package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
		})
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
