// Package scenario runs the benchmark's scenarios — idle, connect, echo,
// routed, post, churn — each against the real gateway binary and, in the
// same run, against bare servers doing only the unavoidable part of the
// work (and serverless-offline where it applies), and reports each as a
// table with ratios and targets.
package scenario

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/backend"
	"github.com/switchboardgw/switchboard/internal/bench/baseline"
	"github.com/switchboardgw/switchboard/internal/bench/gateway"
	"github.com/switchboardgw/switchboard/internal/bench/loadgen"
	"github.com/switchboardgw/switchboard/internal/bench/probe"
	"github.com/switchboardgw/switchboard/internal/bench/report"
	"github.com/switchboardgw/switchboard/internal/bench/worker"
)

// Credentials the generated gateway configurations accept on @connections.
const (
	AccessKeyID     = "AKIDSWITCHBOARDBENCH"
	SecretAccessKey = "switchboard-bench-secret"
)

// Env is what every scenario runs with.
type Env struct {
	// Self is the switchboard-bench executable, re-executed as worker,
	// bare server and backend.
	Self string
	// Gateway is the switchboard binary under test.
	Gateway string
	// Repo is the repository root (for serverless-offline).
	Repo string
	// Dir holds generated configurations.
	Dir string
	// ProfileDir, when set, receives CPU and allocation profiles of every
	// gateway process for each measured window.
	ProfileDir string
	Profile    Profile
	// Log receives progress lines; ChildStderr the children's stderr (nil:
	// kept only to explain failures).
	Log         io.Writer
	ChildStderr io.Writer
	// NoServerless skips the serverless-offline baseline.
	NoServerless bool

	serverless *serverlessRun
}

func (e *Env) logf(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
}

// server is anything a scenario drives: a gateway, a bare server or
// serverless-offline.
type server struct {
	name  string
	ws    string
	http  string
	debug string // "" when there is no /debug/vars
	pid   int
	// rssFunc, when set, replaces reading pid's RSS.
	rssFunc func() (uint64, error)
	gw      *gateway.Gateway
	stop    func() error
}

func (s *server) rss() uint64 {
	var v uint64
	var err error
	if s.rssFunc != nil {
		v, err = s.rssFunc()
	} else {
		v, err = probe.RSS(s.pid)
	}
	if err != nil {
		return 0
	}
	return v
}

func (e *Env) startGateway(ctx context.Context, name string, cfg gateway.Config) (*server, error) {
	cfg.AccessKeyID, cfg.SecretAccessKey = AccessKeyID, SecretAccessKey
	g, err := gateway.Start(ctx, e.Gateway, e.Dir, name, cfg, e.ChildStderr)
	if err != nil {
		return nil, err
	}
	return &server{name: name, ws: g.WS, http: g.HTTP, debug: g.Debug, pid: g.PID(), gw: g,
		stop: func() error { return g.Stop(30 * time.Second) }}, nil
}

func (e *Env) startBare(ctx context.Context, opt baseline.Options) (*server, error) {
	b, err := baseline.Start(ctx, e.Self, opt, e.ChildStderr)
	if err != nil {
		return nil, err
	}
	go drainLines(b.Process.ReadLine)
	return &server{name: "bare-" + opt.Mode, ws: b.WS, http: b.HTTP, debug: b.Debug, pid: b.PID(),
		stop: func() error { return b.Stop(10 * time.Second) }}, nil
}

func (e *Env) startBackend(ctx context.Context) (*backend.Running, error) {
	b, err := backend.Start(ctx, e.Self, e.ChildStderr)
	if err != nil {
		return nil, err
	}
	go drainLines(b.Process.ReadLine)
	return b, nil
}

func drainLines(read func(context.Context) (string, error)) {
	for {
		if _, err := read(context.Background()); err != nil {
			return
		}
	}
}

// stopAll stops servers, in reverse order.
func stopAll(servers ...*server) error {
	var first error
	for i := len(servers) - 1; i >= 0; i-- {
		if s := servers[i]; s != nil {
			if err := s.stop(); err != nil && first == nil {
				first = fmt.Errorf("%s: %w", s.name, err)
			}
		}
	}
	return first
}

// launch starts workers for job (split to fit PerProcess connections each)
// and waits until they have connected.
func (e *Env) launch(ctx context.Context, job worker.Job, workers int) (*worker.Pool, []worker.Event, error) {
	job.Sources = e.Profile.Sources
	if job.DialConcurrency == 0 {
		job.DialConcurrency = e.Profile.DialConcurrency
	}
	pool, err := worker.Launch(e.Self, worker.Split(job, workers, e.Profile.PerProcess), e.ChildStderr)
	if err != nil {
		return nil, nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	evs, err := pool.Connected(cctx)
	if err != nil {
		pool.Stop()
		return nil, nil, err
	}
	return pool, evs, nil
}

// measure starts the pools' windows together, profiles the gateways among
// servers during the window when a profile directory is set, and returns
// each pool's merged stats.
func (e *Env) measure(ctx context.Context, sc *report.Scenario, label string, w Window, servers []*server, pools ...*worker.Pool) ([]loadgen.Stats, error) {
	for _, p := range pools {
		if err := p.Start(); err != nil {
			return nil, err
		}
	}
	profiles := make(chan string, 2*len(servers))
	pending := 0
	if e.ProfileDir != "" {
		for i, s := range servers {
			if s.gw == nil {
				continue
			}
			pending++
			path := filepath.Join(e.ProfileDir, fmt.Sprintf("%s-%s-gw%d.cpu.pprof", sc.Name, fileLabel(label), i))
			go func() {
				select {
				case <-time.After(w.Warmup):
				case <-ctx.Done():
				}
				secs := max(1, int(w.Duration/time.Second))
				if err := probe.CPUProfile(ctx, s.debug, secs, path); err != nil {
					e.logf("%s: CPU profile of %s: %v", sc.Name, s.name, err)
					path = ""
				}
				profiles <- path
			}()
		}
	}
	rctx, cancel := context.WithTimeout(ctx, w.Warmup+w.Duration+2*time.Minute)
	defer cancel()
	stats := make([]loadgen.Stats, len(pools))
	var errs []string
	for i, p := range pools {
		st, err := p.Merged(rctx)
		stats[i] = st
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	for range pending {
		if path := <-profiles; path != "" {
			sc.Profiles = append(sc.Profiles, relative(e.ProfileDir, path))
		}
	}
	if e.ProfileDir != "" {
		for i, s := range servers {
			if s.gw == nil {
				continue
			}
			path := filepath.Join(e.ProfileDir, fmt.Sprintf("%s-%s-gw%d.allocs.pprof", sc.Name, fileLabel(label), i))
			if err := probe.AllocsProfile(ctx, s.debug, path); err != nil {
				e.logf("%s: allocs profile of %s: %v", sc.Name, s.name, err)
				continue
			}
			sc.Profiles = append(sc.Profiles, relative(e.ProfileDir, path))
		}
	}
	if len(errs) > 0 {
		return stats, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return stats, nil
}

// fileLabel turns a label into a file-name part: lower-case letters and
// digits, other runs as one dash ("switchboard 1000 × 1 in flight" →
// "switchboard-1000-1-in-flight").
func fileLabel(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}

func relative(dir, path string) string {
	return filepath.Base(dir) + string(os.PathSeparator) + filepath.Base(path)
}

// ms converts a latency in µs to milliseconds.
func ms(us uint64) float64 { return float64(us) / 1000 }

// latencyValues are the usual latency columns of st.
func latencyValues(st *loadgen.Stats, into map[string]float64) map[string]float64 {
	into["p50"] = ms(st.Latency.Quantile(0.5))
	into["p99"] = ms(st.Latency.Quantile(0.99))
	into["p999"] = ms(st.Latency.Quantile(0.999))
	into["errors"] = float64(st.Errors)
	return into
}

var latencyColumns = []report.Column{
	{Key: "p50", Header: "p50 ms", Format: "f2"},
	{Key: "p99", Header: "p99 ms", Format: "f2"},
	{Key: "p999", Header: "p99.9 ms", Format: "f2"},
	{Key: "errors", Header: "errors", Format: "int"},
}

// noteErrors adds the first error samples of st to the scenario's notes.
func noteErrors(sc *report.Scenario, who string, st *loadgen.Stats) {
	if st.Errors == 0 {
		return
	}
	sc.Notef("%s: %d errors, e.g. %s", who, st.Errors, strings.Join(st.ErrorSamples, " | "))
}

// loadRun is the outcome of one measured window.
type loadRun struct {
	// stats holds each job's merged stats, in order.
	stats []loadgen.Stats
	// rss holds each server's resident memory at the end of the window,
	// connections still open.
	rss []uint64
}

// run launches one pool per job, measures one window and stops the pools.
func (e *Env) run(ctx context.Context, sc *report.Scenario, label string, w Window, servers []*server, jobs ...worker.Job) (*loadRun, error) {
	var pools []*worker.Pool
	defer func() {
		for _, p := range pools {
			p.Stop()
		}
	}()
	for _, job := range jobs {
		job.Warmup, job.Duration = worker.Duration(w.Warmup), worker.Duration(w.Duration)
		p, _, err := e.launch(ctx, job, 1)
		if err != nil {
			return nil, err
		}
		pools = append(pools, p)
	}
	stats, err := e.measure(ctx, sc, label, w, servers, pools...)
	if err != nil {
		return nil, err
	}
	out := &loadRun{stats: stats}
	for _, s := range servers {
		out.rss = append(out.rss, s.rss())
	}
	return out, nil
}
