package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/gateway"
	"github.com/switchboardgw/switchboard/internal/bench/loadgen"
	"github.com/switchboardgw/switchboard/internal/bench/probe"
	"github.com/switchboardgw/switchboard/internal/bench/report"
	"github.com/switchboardgw/switchboard/internal/bench/worker"
)

// Churn storms the gateway with connect / one message / disconnect loops
// (half closing cleanly, half resetting) while steady connections exchange
// messages, with $connect and $disconnect on the trivial backend. It
// reports errors, the connections left once every client has gone (from
// /debug/vars) and the gateway's goroutines before and after.
func Churn(ctx context.Context, e *Env) *report.Scenario {
	p := e.Profile.Churn
	sc := &report.Scenario{Name: "churn",
		Setup: fmt.Sprintf("%d steady connections with 1 message in flight each, while %d loops connect, send one message, read the echo and "+
			"disconnect (alternately close handshake and reset); $connect and $disconnect call the trivial backend; %v warm-up, %v measured.",
			p.Steady, p.Concurrency, p.Warmup, p.Duration),
		Columns: []report.Column{
			{Key: "cycles", Header: "churn cycles/s", Format: "int"},
			{Key: "cycle99", Header: "cycle p99 ms", Format: "f2"},
			{Key: "rate", Header: "steady msgs/s", Format: "int"},
			{Key: "p99", Header: "steady p99 ms", Format: "f2"},
			{Key: "errors", Header: "errors", Format: "int"},
			{Key: "left", Header: "connections left", Format: "int"},
			{Key: "gBefore", Header: "goroutines before", Format: "int"},
			{Key: "gAfter", Header: "goroutines after", Format: "int"},
		}}
	vals, err := e.churnOnce(ctx, sc)
	if err != nil {
		sc.AddNote("switchboard", "", "failed")
		sc.Error = err.Error()
		return sc
	}
	sc.Add("switchboard", "", vals)
	sc.Checks = append(sc.Checks,
		report.NewCheck("errors (storm and steady clients)", vals["errors"], "", "<=", 0),
		report.NewCheck("connections left on the gateway at the end", vals["left"], "", "<=", 0),
		report.NewCheck("goroutines after − before (leak)", vals["gAfter"]-vals["gBefore"], "", "<=", 0))
	sc.Notef("Goroutines are read from /debug/vars on a fresh gateway, and again after every client has gone and the backend has been stopped (so that no pooled backend connection keeps its goroutines), waiting up to 10 s for them to settle.")
	return sc
}

func (e *Env) churnOnce(ctx context.Context, sc *report.Scenario) (map[string]float64, error) {
	p := e.Profile.Churn
	b, err := e.startBackend(ctx)
	if err != nil {
		return nil, err
	}
	backendUp := true
	defer func() {
		if backendUp {
			b.Stop(5 * time.Second)
		}
	}()
	s, err := e.startGateway(ctx, "churn", gateway.Config{ConnectURL: b.URL + "connect", DisconnectURL: b.URL + "disconnect"})
	if err != nil {
		return nil, err
	}
	defer s.stop()
	time.Sleep(300 * time.Millisecond)
	before, err := probe.ReadVars(ctx, s.debug)
	if err != nil {
		return nil, err
	}
	echo := loadgen.Echo{Action: "echo", Size: 64, Inflight: 1}
	e.logf("churn: %d steady, %d churning", p.Steady, p.Concurrency)
	res, err := e.run(ctx, sc, "churn", p.Window, []*server{s},
		worker.Job{Kind: worker.KindEcho, Targets: []string{s.ws}, Conns: p.Steady, Echo: echo},
		worker.Job{Kind: worker.KindChurn, Targets: []string{s.ws}, Concurrency: p.Concurrency, Echo: echo})
	if err != nil {
		return nil, err
	}
	steady, storm := &res.stats[0], &res.stats[1]
	noteErrors(sc, "steady clients", steady)
	noteErrors(sc, "churning clients", storm)

	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	left, _ := probe.WaitVars(wctx, s.debug, func(v probe.Vars) bool { return v.Connections == 0 })
	if err := b.Stop(5 * time.Second); err != nil {
		sc.Notef("backend: %v", err)
	}
	backendUp = false
	after, _ := probe.WaitVars(wctx, s.debug, func(v probe.Vars) bool { return v.Goroutines <= before.Goroutines })
	return map[string]float64{
		"cycles": storm.Rate(), "cycle99": ms(storm.Latency.Quantile(0.99)),
		"rate": steady.Rate(), "p99": ms(steady.Latency.Quantile(0.99)),
		"errors": float64(steady.Errors + storm.Errors), "left": float64(left.Connections),
		"gBefore": float64(before.Goroutines), "gAfter": float64(after.Goroutines),
	}, nil
}
