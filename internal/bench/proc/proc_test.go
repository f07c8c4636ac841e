package proc

import (
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStopKillsTheWholeGroup(t *testing.T) {
	// The child starts a grandchild, prints its pid and waits; SIGTERM ends
	// the child, and Stop must not leave the grandchild behind.
	p, err := Start("sh", exec.Command("sh", "-c", "sleep 60 & echo $!; wait"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	line, err := p.ReadLine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	grandchild, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	if err := p.Stop(2 * time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(grandchild, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d survived Stop", grandchild)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWaitLineAndExitErrors(t *testing.T) {
	var also bytes.Buffer
	p, err := Start("talker", exec.Command("sh", "-c", "echo noise; echo READY x; echo oops >&2; exit 3"), Options{Stderr: &also})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	line, err := p.WaitLine(ctx, func(l string) bool { return strings.HasPrefix(l, "READY") })
	if err != nil || line != "READY x" {
		t.Fatalf("WaitLine = %q, %v", line, err)
	}
	_, err = p.ReadLine(ctx)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "oops") {
		t.Fatalf("reading past the end: %v; want the exit status and the stderr tail", err)
	}
	if !strings.Contains(also.String(), "talker: oops") {
		t.Errorf("stderr copy = %q, want prefixed lines", also.String())
	}
}

func TestReadLineTimesOut(t *testing.T) {
	p, err := Start("sleeper", exec.Command("sleep", "30"), Options{Stdin: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.ReadLine(ctx); err == nil {
		t.Fatal("ReadLine should give up with the context")
	}
	if p.Stdin() == nil {
		t.Error("Options.Stdin should give a stdin pipe")
	}
}

func TestFreePort(t *testing.T) {
	port, err := FreePort()
	if err != nil || port <= 0 || port > 65535 {
		t.Fatalf("FreePort = %d, %v", port, err)
	}
}
