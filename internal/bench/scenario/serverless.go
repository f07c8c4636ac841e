package scenario

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/baseline"
	"github.com/switchboardgw/switchboard/internal/bench/loadgen"
	"github.com/switchboardgw/switchboard/internal/bench/report"
	"github.com/switchboardgw/switchboard/internal/bench/worker"
)

// serverlessRun is the serverless-offline echo measured once per run, at
// the routed scenario's saturation load, and shared by echo and routed.
type serverlessRun struct {
	stats loadgen.Stats
	rss   uint64
	// skipped says why there are no figures.
	skipped string
	// setup describes the load.
	setup string
}

// serverlessOffline measures serverless-offline (once).
func (e *Env) serverlessOffline(ctx context.Context, sc *report.Scenario) *serverlessRun {
	if e.serverless != nil {
		return e.serverless
	}
	p := e.Profile.Routed
	r := &serverlessRun{setup: fmt.Sprintf("%d connections × %d in flight", p.Conns, p.Inflight)}
	e.serverless = r
	if e.NoServerless {
		r.skipped = "not measured (--serverless=false)"
		return r
	}
	e.logf("serverless-offline: starting")
	sls, err := baseline.StartServerless(ctx, e.Repo, e.ChildStderr)
	if err != nil {
		if errors.Is(err, baseline.ErrUnavailable) {
			r.skipped = err.Error()
		} else {
			r.skipped = "did not start: " + oneLine(err.Error())
		}
		e.logf("serverless-offline: skipped: %s", r.skipped)
		return r
	}
	defer sls.Stop(10 * time.Second)
	s := &server{name: "serverless-offline", ws: sls.WS, rssFunc: sls.RSS}
	e.logf("serverless-offline: %s", r.setup)
	res, err := e.run(ctx, sc, "serverless-offline", p.Window, []*server{s}, worker.Job{Kind: worker.KindEcho,
		Targets: []string{sls.WS}, Conns: p.Conns, Echo: loadgen.Echo{Action: "echo", Size: p.Size, Inflight: p.Inflight}})
	if err != nil {
		r.skipped = "failed: " + oneLine(err.Error())
		return r
	}
	r.stats, r.rss = res.stats[0], res.rss[0]
	return r
}

// addServerless adds the serverless-offline row and the ratios of a
// switchboard figure (throughput, p99, RSS) to it.
func addServerless(sc *report.Scenario, r *serverlessRun, what string, sb *loadgen.Stats, sbRSS uint64, throughputTarget float64) {
	name := fmt.Sprintf("%s msgs/s ÷ serverless-offline", what)
	if r.skipped != "" {
		sc.AddNote("serverless-offline", r.setup, "skipped: "+r.skipped)
		op := ""
		if throughputTarget > 0 {
			op = ">="
		}
		sc.Checks = append(sc.Checks, report.Skip(name, "×", op, throughputTarget, r.skipped))
		return
	}
	sc.Add("serverless-offline", r.setup+" (saturation)", latencyValues(&r.stats,
		map[string]float64{"rate": r.stats.Rate(), "rss": float64(r.rss) / (1 << 20)}))
	noteErrors(sc, "serverless-offline", &r.stats)
	op := ""
	if throughputTarget > 0 {
		op = ">="
	}
	sc.Checks = append(sc.Checks,
		report.NewCheck(name, report.Ratio(sb.Rate(), r.stats.Rate()), "×", op, throughputTarget),
		report.NewCheck(fmt.Sprintf("%s p99 ÷ serverless-offline p99 (lower is better)", what),
			report.Ratio(float64(sb.Latency.Quantile(0.99)), float64(r.stats.Latency.Quantile(0.99))), "×", "", 0),
		report.NewCheck(fmt.Sprintf("%s RSS ÷ serverless-offline RSS (lower is better)", what),
			report.Ratio(float64(sbRSS), float64(r.rss)), "×", "", 0))
}
