// Package gateway runs the Switchboard binary under test: it builds
// ./cmd/switchboard once, writes a generated configuration for each
// scenario, starts `switchboard serve` on free loopback ports with its
// debug endpoints on, and stops it with SIGTERM.
package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/probe"
	"github.com/switchboardgw/switchboard/internal/bench/proc"
)

// Gateway is one running gateway process.
type Gateway struct {
	// WS is the WebSocket URL, ws://ADDR/STAGE.
	WS string
	// HTTP is the @connections endpoint, http://ADDR/STAGE.
	HTTP string
	// Debug serves /debug/vars and /debug/pprof/.
	Debug string
	// Metrics serves /metrics when Config.Metrics is set ("" otherwise).
	Metrics string
	*proc.Process
}

// Start writes cfg (with Listen set to a free port, and MetricsListen too
// if Metrics is set) under dir as NAME.yaml, starts bin serving it, and
// waits until its debug endpoint answers and its listener accepts.
func Start(ctx context.Context, bin, dir, name string, cfg Config, stderr io.Writer) (*Gateway, error) {
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	dport, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	cfg.Listen = "127.0.0.1:" + strconv.Itoa(port)
	if cfg.Metrics {
		mport, err := proc.FreePort()
		if err != nil {
			return nil, err
		}
		cfg.MetricsListen = "127.0.0.1:" + strconv.Itoa(mport)
	}
	stage := cfg.Stage
	if stage == "" {
		stage = "dev"
	}
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, cfg.YAML(), 0o644); err != nil {
		return nil, err
	}
	debugAddr := "127.0.0.1:" + strconv.Itoa(dport)
	cmd := exec.Command(bin, "serve", "--config", path, "--log-format", "json", "--log-level", "warn",
		"--debug-listen", debugAddr)
	p, err := proc.Start(name, cmd, proc.Options{Stderr: stderr})
	if err != nil {
		return nil, err
	}
	g := &Gateway{WS: "ws://" + cfg.Listen + "/" + stage, HTTP: "http://" + cfg.Listen + "/" + stage,
		Debug: "http://" + debugAddr, Process: p}
	if cfg.Metrics {
		g.Metrics = "http://" + cfg.MetricsListen
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	go func() { // the gateway exiting early ends the wait
		select {
		case <-p.Done():
			cancel()
		case <-wctx.Done():
		}
	}()
	if _, err := probe.WaitVars(wctx, g.Debug, func(probe.Vars) bool { return true }); err != nil {
		p.Stop(time.Second)
		return nil, fmt.Errorf("%s did not start: %w\n%s", name, err, p.StderrTail())
	}
	for {
		c, err := net.DialTimeout("tcp", cfg.Listen, time.Second)
		if err == nil {
			c.Close()
			return g, nil
		}
		select {
		case <-wctx.Done():
			p.Stop(time.Second)
			return nil, fmt.Errorf("%s does not accept on %s: %w\n%s", name, cfg.Listen, err, p.StderrTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM and waits for the graceful stop (closing every
// connection with 1001), killing the process if it takes more than grace.
func (g *Gateway) Stop(grace time.Duration) error { return g.Process.Stop(grace) }
