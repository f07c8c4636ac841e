package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

// writeKeys writes an API keys file holding key as id.
func writeKeys(t *testing.T, path, id, key string) {
	t.Helper()
	sum := sha256.Sum256([]byte(key))
	if err := os.WriteFile(path, []byte(id+" "+hex.EncodeToString(sum[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSIGHUPReloadsAPIKeys runs `switchboard serve` as a process and
// checks that SIGHUP makes it read its API keys file again, and that a
// broken file leaves the old keys in force.
func TestSIGHUPReloadsAPIKeys(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys")
	writeKeys(t, keys, "first", "first-key-0123456789abcdef")
	cfg := writeFile(t, `
listen: 127.0.0.1:0
management: {auth: none}
apiKeysFile: `+keys+`
integrations: {echo: {type: MOCK, response: {body: $request.body}}}
routes:
  $connect: {integration: echo, apiKeyRequired: true}
  $default: {integration: echo, routeResponseSelectionExpression: $default}
`)
	cmd, waitLog := startServe(t, cfg)
	url := waitLog(regexp.MustCompile(`"websocket":"(ws://[^"]+)"`))[1]
	dial := func(key string) error {
		_, err := sbt.Dial(t, url, sbt.DialOptions{Header: http.Header{"X-Api-Key": {key}}})
		return err
	}
	refused := func(err error) bool {
		var se ws.StatusError
		return errors.As(err, &se) && int(se) == http.StatusForbidden
	}
	if err := dial("first-key-0123456789abcdef"); err != nil {
		t.Fatalf("first key: %v", err)
	}

	writeKeys(t, keys, "second", "second-key-0123456789abcdef")
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(regexp.MustCompile(`"msg":"reloaded"`))
	if err := dial("second-key-0123456789abcdef"); err != nil {
		t.Errorf("second key after SIGHUP: %v", err)
	}
	if err := dial("first-key-0123456789abcdef"); !refused(err) {
		t.Errorf("first key after SIGHUP: %v, want 403", err)
	}

	os.WriteFile(keys, []byte("not a keys file\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	if line := waitLog(regexp.MustCompile(`"msg":"reload failed[^"]*".*`))[0]; !strings.Contains(line, "keys") {
		t.Errorf("reload error does not name the keys file: %s", line)
	}
	if err := dial("second-key-0123456789abcdef"); err != nil {
		t.Errorf("after a failed reload: %v", err)
	}
}

// startServe runs `switchboard serve --config cfg --log-format json` (with
// extra arguments) as a process, killed when the test ends. waitLog
// returns the submatches of the next log line matching re, failing the
// test if none comes within 10 s.
func startServe(t *testing.T, cfg string, extra ...string) (cmd *exec.Cmd, waitLog func(re *regexp.Regexp) []string) {
	t.Helper()
	cmd = exec.Command(os.Args[0], append([]string{"serve", "--config", cfg, "--log-format", "json"}, extra...)...)
	cmd.Env = append(os.Environ(), "SWITCHBOARD_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	logs := make(chan string, 1024) // more than these tests log; a full channel would stall the process
	go func() {
		defer close(logs)
		for sc := bufio.NewScanner(stderr); sc.Scan(); {
			logs <- sc.Text()
		}
	}()
	return cmd, func(re *regexp.Regexp) []string {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case line, ok := <-logs:
				if !ok {
					t.Fatalf("serve exited before logging %v", re)
				}
				if m := re.FindStringSubmatch(line); m != nil {
					return m
				}
			case <-timeout:
				t.Fatalf("no log line matching %v", re)
			}
		}
	}
}

// versionedConfig is a configuration whose $default route echoes with the
// given prefix; extra is added at the top.
func versionedConfig(prefix, extra string) string {
	return `
listen: 127.0.0.1:0
management: {auth: none}
integrations: {echo: {type: MOCK, response: {body: "` + prefix + `:$request.body"}}}
routes:
  $default: {integration: echo, routeResponseSelectionExpression: $default}
` + extra
}

// TestSIGHUPReloadsConfig: SIGHUP applies a changed configuration file
// under an open connection, names the settings that need a restart, and
// rejects a broken file while the configuration in use goes on serving.
func TestSIGHUPReloadsConfig(t *testing.T) {
	path := writeFile(t, versionedConfig("v1", ""))
	cmd, waitLog := startServe(t, path)
	url := waitLog(regexp.MustCompile(`"websocket":"(ws://[^"]+)"`))[1]
	c := sbt.MustDial(t, url)
	c.SendText("m")
	c.ExpectText("v1:m")

	writeConfig := func(text string) {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(versionedConfig("v2", "stage: {limits: {idleTimeout: 1m}}\n"))
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(regexp.MustCompile(`"msg":"reloaded","trigger":"SIGHUP"`))
	if line := waitLog(regexp.MustCompile(`"msg":"settings changed that take effect only on a restart.*`))[0]; !strings.Contains(line, "stage.limits.idleTimeout") {
		t.Errorf("restart-only warning does not name the setting: %s", line)
	}
	c.SendText("m")
	c.ExpectText("v2:m")

	writeConfig(versionedConfig("v3", "routes: {sendMessage: {integration: mesage}}\n"))
	cmd.Process.Signal(syscall.SIGHUP)
	line := waitLog(regexp.MustCompile(`"msg":"reload rejected[^"]*".*`))[0]
	if !strings.Contains(line, "routes") {
		t.Errorf("rejection does not name the problem: %s", line)
	}
	c.SendText("m")
	c.ExpectText("v2:m")
}

// TestWatchReloadsConfig: with --watch, a change to the file's content is
// applied without a signal.
func TestWatchReloadsConfig(t *testing.T) {
	path := writeFile(t, versionedConfig("v1", ""))
	_, waitLog := startServe(t, path, "--watch")
	url := waitLog(regexp.MustCompile(`"websocket":"(ws://[^"]+)"`))[1]
	c := sbt.MustDial(t, url)
	c.SendText("m")
	c.ExpectText("v1:m")
	if err := os.WriteFile(path, []byte(versionedConfig("v2", "")), 0o600); err != nil {
		t.Fatal(err)
	}
	waitLog(regexp.MustCompile(`"msg":"reloaded","trigger":"watch"`))
	c.SendText("m")
	c.ExpectText("v2:m")
}

// TestSIGHUPRotatesTheLogWhateverTheFile: log rotation (rename, SIGHUP)
// works while the configuration file is invalid: the access log is
// reopened though the reload is rejected.
func TestSIGHUPRotatesTheLogWhateverTheFile(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "access.log")
	access := "stage: {accessLogSettings: {destination: " + logPath + ", format: \"$context.eventType $context.requestId\"}}\n"
	path := writeFile(t, versionedConfig("v1", access))
	cmd, waitLog := startServe(t, path)
	url := waitLog(regexp.MustCompile(`"websocket":"(ws://[^"]+)"`))[1]
	c := sbt.MustDial(t, url)
	sbt.CheckFor(t, 5*time.Second, func() error { // the CONNECT line, written within a second
		if b, _ := os.ReadFile(logPath); !strings.HasPrefix(string(b), "CONNECT ") {
			return fmt.Errorf("access log %q", b)
		}
		return nil
	})

	if err := os.WriteFile(path, []byte("not: [valid"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(regexp.MustCompile(`"msg":"reload rejected`))
	c.SendText("m")
	c.ExpectText("v1:m")
	sbt.CheckFor(t, 5*time.Second, func() error { // written within a second
		b, err := os.ReadFile(logPath)
		if err != nil || !strings.HasPrefix(string(b), "MESSAGE ") {
			return fmt.Errorf("reopened access log: %q, %v", b, err)
		}
		return nil
	})
}
