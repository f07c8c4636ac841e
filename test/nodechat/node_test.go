//go:build linux

// Package nodechat_test runs Node.js code written for AWS against a real
// gateway: the example chat app in examples/aws-lambda-chat, behind the
// local Lambda runner in tools/lambda-runner with dynalite as DynamoDB, and
// the AWS SDK for JavaScript v3 management client. It needs node (20 or
// later) and npm; npm dependencies are installed from the committed lock
// files on first use. Linux only: child processes are tied to the test
// binary's life with Pdeathsig.
package nodechat_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// npmCI installs dir's locked npm dependencies with `npm ci`, unless
// node_modules was installed from the current package-lock.json already.
func npmCI(t *testing.T, dir string) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("these tests run Node.js code and need %s (Node.js 20 or later) on PATH: %v", tool, err)
		}
	}
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
	t.Logf("npm ci in %s took %v", dir, time.Since(start).Round(time.Millisecond))
}

// nodeCommand prepares `node args...` in dir with the test's environment
// plus env, in a process group of its own that is killed with SIGKILL when
// ctx ends, or when the test binary dies without cleaning up (a test
// timeout, Ctrl-C).
func nodeCommand(ctx context.Context, dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	// The SDK warns on every start that releases from 2027 need Node.js 22.
	cmd.Env = append(os.Environ(), "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true")
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// runNode runs a Node.js script to completion (at most 30 s) and returns
// its standard output; standard error goes to the test log.
func runNode(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := nodeCommand(ctx, dir, env, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("%s stderr:\n%s", args[0], s)
	}
	return string(out), err
}

// startNode starts a long-running Node.js program, waits until it prints a
// line beginning with ready and returns the rest of that line. Its output
// goes to the test log; its process group is killed when the test ends.
// extraFiles are inherited as file descriptors 3, 4, ...
func startNode(t *testing.T, dir string, env []string, extraFiles []*os.File, ready string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := nodeCommand(ctx, dir, env, args...)
	cmd.ExtraFiles = extraFiles
	name := filepath.Base(args[0])
	readyLine := make(chan string, 1)
	cmd.Stdout = &logWriter{t: t, prefix: name + ": ", ready: ready, found: readyLine}
	cmd.Stderr = &logWriter{t: t, prefix: name + " (stderr): "}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cancel(); <-exited })

	select {
	case line := <-readyLine:
		t.Logf("%s ready in %v", name, time.Since(start).Round(time.Millisecond))
		return line
	case <-exited:
		t.Fatalf("%s exited before printing %q: %v (its output is in the log above)", name, ready, waitErr)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not print %q within 30s", name, ready)
	}
	return ""
}

// logWriter sends a child's output to the test log line by line and
// reports the first line beginning with ready.
type logWriter struct {
	t      *testing.T
	prefix string
	ready  string
	found  chan<- string

	mu      sync.Mutex
	partial []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		w.log(line)
		if rest, ok := strings.CutPrefix(line, w.ready); ok && w.ready != "" && w.found != nil {
			w.found <- rest
			w.found = nil
		}
	}
}

func (w *logWriter) log(line string) {
	defer func() { recover() }() // a line logged after the test ended is dropped
	w.t.Log(w.prefix + line)
}
