package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

// TestMain lets the tests run this binary as the real command: with
// SWITCHBOARD_TEST_MAIN set, the test binary is switchboard.
func TestMain(m *testing.M) {
	if os.Getenv("SWITCHBOARD_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidate(t *testing.T) {
	good := writeFile(t, "management: {auth: none}\nintegrations: {m: {type: MOCK}}\nroutes: {$default: {integration: m}}\n")
	var out, errOut bytes.Buffer
	if code := run([]string{"validate", "--config", good}, &out, &errOut); code != 0 {
		t.Fatalf("valid file: exit %d, %s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "valid") {
		t.Errorf("output %q", out.String())
	}

	bad := writeFile(t, `
management: {auth: none}
integrations:
  message: {type: AWS_PROXY, uri: "http://127.0.0.1:9000/events"}
routes:
  sendMessage: {integration: mesage}
  $default: {integration: message, routeResponseSelectionExpression: yes}
stage: {limits: {idleTimeout: soon}}
`)
	out.Reset()
	errOut.Reset()
	if code := run([]string{"validate", "--config", bad}, &out, &errOut); code != 1 {
		t.Fatalf("invalid file: exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		`routes.sendMessage.integration: unknown integration "mesage" (did you mean "message"?)`,
		`stage.limits.idleTimeout: invalid duration "soon"`,
	}
	for _, w := range want {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, w)
		}
		if !found {
			t.Errorf("validate output lacks %q:\n%s", w, out.String())
		}
	}
	if !strings.Contains(errOut.String(), "problem(s)") {
		t.Errorf("stderr %q", errOut.String())
	}

	if code := run([]string{"validate", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, &out, &errOut); code != 1 {
		t.Errorf("missing file: exit %d, want 1", code)
	}
	if code := run([]string{"validate"}, &out, &errOut); code != 2 {
		t.Errorf("no --config: exit %d, want 2", code)
	}
}

func TestVersionAndUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "switchboard ") {
		t.Errorf("version: exit %d %q", code, out.String())
	}
	if code := run([]string{"frobnicate"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unknown command") {
		t.Errorf("unknown command: exit %d %q", code, errOut.String())
	}
	if code := run(nil, &out, &errOut); code != 2 {
		t.Errorf("no command: exit %d", code)
	}
	if code := run([]string{"serve", "--log-format", "xml"}, &out, &errOut); code != 2 {
		t.Errorf("bad --log-format: exit %d", code)
	}
}

// TestServeProcess runs `switchboard serve` as a real process, talks to
// it, and stops it with SIGTERM: the client is closed with 1001 and the
// process exits 0.
func TestServeProcess(t *testing.T) {
	cfg := writeFile(t, `
listen: 127.0.0.1:0
management: {auth: none}
integrations: {echo: {type: MOCK, response: {body: "echo:$request.body"}}}
routes: {$default: {integration: echo, routeResponseSelectionExpression: $default}}
`)
	cmd, waitLog := startServe(t, cfg, "--debug-listen", "127.0.0.1:0")
	// The debug endpoints are logged before the gateway's address.
	vars := waitLog(regexp.MustCompile(`"vars":"(http://[^"]+)"`))[1]
	url := waitLog(regexp.MustCompile(`"websocket":"(ws://[^"]+)"`))[1]
	c := sbt.MustDial(t, url)
	c.SendText("hi")
	c.ExpectText("echo:hi")

	// The debug listener reports the connection.
	sbt.CheckFor(t, 5*time.Second, func() error {
		resp, err := http.Get(vars)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var v struct {
			Switchboard map[string]int64 `json:"switchboard"`
			Memstats    struct{ HeapInuse uint64 }
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			return err
		}
		if v.Switchboard["connections"] != 1 || v.Memstats.HeapInuse == 0 {
			return fmt.Errorf("/debug/vars: %+v", v)
		}
		return nil
	})

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	c.ExpectClose(1001)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
}

func TestServeBadConfigExits1(t *testing.T) {
	var out, errOut bytes.Buffer
	bad := writeFile(t, "routes: {x: {integration: nope}}\n")
	if code := run([]string{"serve", "--config", bad}, &out, &errOut); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), `routes.x.integration: unknown integration "nope"`) {
		t.Errorf("stderr %q", errOut.String())
	}
}

func TestServeBadDebugAddressExits1(t *testing.T) {
	cfg := writeFile(t, "listen: 127.0.0.1:0\nmanagement: {auth: none}\nintegrations: {m: {type: MOCK}}\nroutes: {$default: {integration: m}}\n")
	var out, errOut bytes.Buffer
	if code := run([]string{"serve", "--config", cfg, "--debug-listen", "not-an-address"}, &out, &errOut); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "cannot listen for debug") {
		t.Errorf("stderr %q", errOut.String())
	}
}

// --watch needs a file to watch.
func TestWatchNeedsConfig(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"serve", "--watch"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "--watch needs --config") {
		t.Errorf("serve --watch without --config: exit %d, stderr %q", code, errOut.String())
	}
}
