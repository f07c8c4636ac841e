package scenario

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/baseline"
	"github.com/switchboardgw/switchboard/internal/bench/gateway"
	"github.com/switchboardgw/switchboard/internal/bench/probe"
	"github.com/switchboardgw/switchboard/internal/bench/report"
	"github.com/switchboardgw/switchboard/internal/bench/worker"
)

// idleTarget is the user-space memory target per idle connection.
const idleTarget = 2048

// Idle ramps N silent connections, holds them, and divides each server's
// growth in RSS, Go heap + stacks and goroutines by N; the kernel's share
// comes from /proc/slabinfo.
func Idle(ctx context.Context, e *Env) *report.Scenario {
	p := e.Profile.Idle
	sc := &report.Scenario{Name: "idle",
		Setup: fmt.Sprintf("N silent connections from 127.0.0.1–%d, held %v; growth of each server after a forced GC, divided by N. "+
			"Above %d connections the load is spread over several processes (gateways and workers).", e.Profile.Sources, p.Hold, e.Profile.PerProcess),
		Columns: []report.Column{
			{Key: "procs", Header: "server procs", Format: "int"},
			{Key: "rss", Header: "RSS B/conn", Format: "int"},
			{Key: "heap", Header: "heap B/conn", Format: "int"},
			{Key: "stack", Header: "stack B/conn", Format: "int"},
			{Key: "user", Header: "heap+stack B/conn", Format: "int"},
			{Key: "goroutines", Header: "goroutines/conn", Format: "f2"},
			{Key: "kernel", Header: "kernel B/conn", Format: "int"},
			{Key: "ramp", Header: "ramp conns/s", Format: "int"},
		}}
	kernelNoted := false
	for _, n := range p.Conns {
		procs := (n + e.Profile.PerProcess - 1) / e.Profile.PerProcess
		var gwUser, bareUser float64
		for _, system := range []string{"switchboard", "bare accept"} {
			variant := fmt.Sprintf("%d conns", n)
			e.logf("idle: %s, %d connections over %d process(es)", system, n, procs)
			res, err := e.idleOnce(ctx, system, n, procs)
			if err != nil {
				sc.AddNote(system, variant, "failed")
				sc.Error = strings.TrimSpace(sc.Error + "\n" + fmt.Sprintf("%s at %d: %v", system, n, err))
				continue
			}
			sc.Add(system, variant, res.values)
			sc.Profiles = append(sc.Profiles, res.profiles...)
			if res.kernelNote != "" && !kernelNoted {
				sc.Notef("%s", res.kernelNote)
				kernelNoted = true
			}
			if res.dialErrors > 0 {
				sc.Notef("%s at %d: %d dials failed (%s)", system, n, res.dialErrors, res.dialSample)
			}
			if system == "switchboard" {
				gwUser = res.values["user"]
			} else {
				bareUser = res.values["user"]
			}
		}
		if n == p.TargetConns {
			sc.Checks = append(sc.Checks, report.NewCheck(fmt.Sprintf("switchboard heap+stack per idle connection at %d", n), gwUser, "B", "<=", idleTarget))
		}
		sc.Checks = append(sc.Checks, report.NewCheck(fmt.Sprintf("heap+stack per connection at %d, switchboard ÷ bare accept", n), report.Ratio(gwUser, bareUser), "×", "", 0))
	}
	if len(p.Conns) > 0 && p.Conns[0] != p.TargetConns && !contains(p.Conns, p.TargetConns) {
		sc.Checks = append(sc.Checks, report.Skip(fmt.Sprintf("switchboard heap+stack per idle connection at %d", p.TargetConns), "B", "<=", idleTarget,
			"this profile does not reach that many connections"))
	}
	sc.Notef("The target is on heap+stack (HeapInuse+StackInuse, what the Go runtime holds for live data); RSS adds the runtime's free pages and fixed overheads.")
	return sc
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

type idleResult struct {
	values     map[string]float64
	kernelNote string
	dialErrors int64
	dialSample string
	profiles   []string
}

// idleOnce measures one system at n connections over procs servers.
func (e *Env) idleOnce(ctx context.Context, system string, n, procs int) (*idleResult, error) {
	var servers []*server
	defer func() { stopAll(servers...) }()
	for i := range procs {
		var s *server
		var err error
		if system == "switchboard" {
			s, err = e.startGateway(ctx, fmt.Sprintf("idle-gw%d", i), gateway.Config{})
		} else {
			s, err = e.startBare(ctx, baseline.Options{Mode: "accept", Hold: e.Profile.PerProcess})
		}
		if err != nil {
			return nil, err
		}
		servers = append(servers, s)
	}
	time.Sleep(300 * time.Millisecond) // let start-up garbage settle
	before, err := sampleServers(ctx, servers)
	if err != nil {
		return nil, err
	}
	slabsBefore, slabErr := probe.ReadSlabs()

	targets := make([]string, len(servers))
	for i, s := range servers {
		targets[i] = s.ws
	}
	start := time.Now()
	pool, evs, err := e.launch(ctx, worker.Job{Kind: worker.KindIdle, Targets: targets, Conns: n}, 1)
	if err != nil {
		return nil, err
	}
	defer pool.Stop()
	res := &idleResult{}
	held := 0
	for _, ev := range evs {
		held += ev.Conns
		if ev.Stats != nil && ev.Stats.Errors > 0 {
			res.dialErrors += ev.Stats.Errors
			res.dialSample = strings.Join(ev.Stats.ErrorSamples, " | ")
		}
	}
	if held == 0 {
		return nil, fmt.Errorf("no connection succeeded: %s", res.dialSample)
	}
	// Wait until the servers have registered every connection.
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		total := int64(0)
		for _, s := range servers {
			v, err := probe.ReadVars(wctx, s.debug)
			if err != nil {
				return nil, err
			}
			total += v.Connections
		}
		if total >= int64(held) {
			break
		}
		select {
		case <-wctx.Done():
			return nil, fmt.Errorf("servers registered %d of %d connections", total, held)
		case <-time.After(100 * time.Millisecond):
		}
	}
	ramp := float64(held) / time.Since(start).Seconds()
	time.Sleep(e.Profile.Idle.Hold)
	after, err := sampleServers(ctx, servers)
	if err != nil {
		return nil, err
	}
	if e.ProfileDir != "" {
		for i, s := range servers {
			if s.gw == nil {
				continue
			}
			path := filepath.Join(e.ProfileDir, fmt.Sprintf("idle-%d-gw%d.allocs.pprof", n, i))
			if err := probe.AllocsProfile(ctx, s.debug, path); err != nil {
				e.logf("idle: allocs profile: %v", err)
				continue
			}
			res.profiles = append(res.profiles, relative(e.ProfileDir, path))
		}
	}
	per := func(a, b float64) float64 { return (a - b) / float64(held) }
	res.values = map[string]float64{
		"procs":      float64(procs),
		"rss":        per(after.rss, before.rss),
		"heap":       per(after.heap, before.heap),
		"stack":      per(after.stack, before.stack),
		"user":       per(after.heap+after.stack, before.heap+before.stack),
		"goroutines": per(after.goroutines, before.goroutines),
		"ramp":       ramp,
	}
	if slabErr != nil {
		res.kernelNote = "kernel share: /proc/slabinfo is not readable here (" + slabErr.Error() + ")"
	} else if slabsAfter, err := probe.ReadSlabs(); err == nil {
		total, by := probe.Growth(slabsBefore, slabsAfter, probe.KernelSlabs)
		res.values["kernel"] = float64(total) / float64(held)
		var parts []string
		for _, name := range probe.KernelSlabs {
			parts = append(parts, fmt.Sprintf("%s %d", name, by[name]/int64(held)))
		}
		res.kernelNote = fmt.Sprintf("kernel B/conn: growth in active objects × object size of the slabs %s, divided by N "+
			"(both loopback ends of each connection, client and server socket; kmalloc-* and socket buffers not counted). "+
			"Last breakdown (B/conn): %s.", strings.Join(probe.KernelSlabs, ", "), strings.Join(parts, ", "))
	}
	return res, nil
}

type memSample struct {
	rss, heap, stack, goroutines float64
}

// sampleServers forces a GC in each server and sums their figures.
func sampleServers(ctx context.Context, servers []*server) (memSample, error) {
	var m memSample
	for _, s := range servers {
		if err := probe.GC(ctx, s.debug); err != nil {
			return m, err
		}
		v, err := probe.ReadVars(ctx, s.debug)
		if err != nil {
			return m, err
		}
		m.rss += float64(s.rss())
		m.heap += float64(v.HeapInuse)
		m.stack += float64(v.StackInuse)
		m.goroutines += float64(v.Goroutines)
	}
	return m, nil
}
