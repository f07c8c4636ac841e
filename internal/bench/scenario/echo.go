package scenario

import (
	"context"
	"fmt"

	"github.com/switchboardgw/switchboard/internal/bench/baseline"
	"github.com/switchboardgw/switchboard/internal/bench/gateway"
	"github.com/switchboardgw/switchboard/internal/bench/loadgen"
	"github.com/switchboardgw/switchboard/internal/bench/report"
	"github.com/switchboardgw/switchboard/internal/bench/worker"
)

// echoLoad is an echo variant over conns connections.
func echoLoad(label string, conns int, echo loadgen.Echo) variant {
	return variant{label: label, job: worker.Job{Kind: worker.KindEcho, Conns: conns, Echo: echo}}
}

// echoColumns are the columns of the echo and routed tables.
var echoColumns = append([]report.Column{
	{Key: "rate", Header: "msgs/s", Format: "int"},
	{Key: "offered", Header: "offered/s", Format: "int"},
}, append(latencyColumns, report.Column{Key: "rss", Header: "RSS MiB", Format: "f1"})...)

// Echo measures a two-way MOCK route ($default answering $request.body)
// against the bare echo server: 1,000 connections at saturation with 1
// and 8 messages in flight each, and at a fixed offered rate. At
// saturation it also measures the gateway with access logs and metrics on,
// and checks their counts against the load generator's.
func Echo(ctx context.Context, e *Env) *report.Scenario {
	p := e.Profile.Echo
	sc := &report.Scenario{Name: "echo", Columns: echoColumns,
		Setup: fmt.Sprintf("%d connections, %d-byte messages; saturation = each connection keeps k messages in flight (closed loop); "+
			"fixed rate = sends paced by time over all connections (open loop, latency from the scheduled send). %v warm-up, %v measured.",
			p.Conns, p.Size, p.Warmup, p.Duration)}
	var variants []variant
	for _, k := range p.Inflight {
		variants = append(variants, echoLoad(fmt.Sprintf("%d × %d in flight", p.Conns, k), p.Conns,
			loadgen.Echo{Action: "echo", Size: p.Size, Inflight: k}))
	}
	variants = append(variants, echoLoad(fmt.Sprintf("%d × fixed %.0f msgs/s", p.Conns, p.Rate), p.Conns,
		loadgen.Echo{Action: "echo", Size: p.Size, Rate: p.Rate}))

	obs := &observed{}
	results := e.compare(ctx, sc, p.Window, variants, []system{
		{name: "bare echo", start: func() ([]*server, error) {
			s, err := e.startBare(ctx, baseline.Options{Mode: "echo"})
			return []*server{s}, err
		}},
		{name: "switchboard", start: func() ([]*server, error) {
			s, err := e.startGateway(ctx, "echo", gateway.Config{})
			return []*server{s}, err
		}},
		{name: observedName, start: func() ([]*server, error) {
			return obs.start(ctx, e, "echo-logs-metrics", gateway.Config{})
		}, only: func(v variant) bool { return v.job.Echo.Rate == 0 }, observe: obs.observe},
	})
	for i, v := range variants {
		sb, bare, ob := results["switchboard"][i], results["bare echo"][i], results[observedName][i]
		switch {
		case sb == nil:
		case v.job.Echo.Rate > 0 && bare != nil:
			sc.Checks = append(sc.Checks, report.NewCheck(fmt.Sprintf("p99 at %.0f msgs/s, switchboard ÷ bare echo (lower is better)", v.job.Echo.Rate),
				report.Ratio(float64(sb.stats.Latency.Quantile(0.99)), float64(bare.stats.Latency.Quantile(0.99))), "×", "", 0))
		case v.job.Echo.Rate == 0:
			if bare != nil {
				sc.Checks = append(sc.Checks, report.NewCheck(fmt.Sprintf("msgs/s at %s, switchboard MOCK ÷ bare echo", v.label),
					report.Ratio(sb.stats.Rate(), bare.stats.Rate()), "×", ">=", 0.7))
			}
			if ob != nil {
				sc.Checks = append(sc.Checks, report.NewCheck(fmt.Sprintf("msgs/s at %s, switchboard with access logs and metrics ÷ switchboard", v.label),
					report.Ratio(ob.stats.Rate(), sb.stats.Rate()), "×", ">=", 0.9))
			}
		}
	}
	if obs.srv != nil { // started
		obs.check(sc)
	}
	// serverless-offline runs the routed load shape; compare the MOCK echo
	// variant with the same number in flight.
	for i, v := range variants {
		if v.job.Echo.Rate == 0 && v.job.Echo.Inflight == e.Profile.Routed.Inflight && p.Conns == e.Profile.Routed.Conns {
			if sb := results["switchboard"][i]; sb != nil {
				addServerless(sc, e.serverlessOffline(ctx, sc), "switchboard MOCK echo", &sb.stats, sb.rss, 0)
			}
		}
	}
	return sc
}
