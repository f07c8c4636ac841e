package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/baseline"
	"github.com/switchboardgw/switchboard/internal/bench/gateway"
	"github.com/switchboardgw/switchboard/internal/bench/report"
	"github.com/switchboardgw/switchboard/internal/bench/worker"
)

// Connect measures handshakes per second: a closed loop of dial,
// upgrade, reset, against the bare accept+upgrade server, the gateway
// without a $connect route, and the gateway with a $connect AWS_PROXY
// integration on the trivial backend.
func Connect(ctx context.Context, e *Env) *report.Scenario {
	p := e.Profile.Connect
	sc := &report.Scenario{Name: "connect",
		Setup: fmt.Sprintf("%d handshakes in progress at a time (dial, upgrade, then reset the socket); %v warm-up, %v measured.",
			p.Concurrency, p.Warmup, p.Duration),
		Columns: append([]report.Column{{Key: "rate", Header: "handshakes/s", Format: "int"}}, latencyColumns...)}
	const (
		bare        = "bare accept+upgrade"
		noConnect   = "switchboard, no $connect"
		httpConnect = "switchboard, $connect → HTTP backend"
	)
	results := e.compare(ctx, sc, p.Window, []variant{{job: worker.Job{Kind: worker.KindHandshakes, Concurrency: p.Concurrency}}}, []system{
		{name: bare, start: func() ([]*server, error) {
			s, err := e.startBare(ctx, baseline.Options{Mode: "accept", Hold: e.Profile.PerProcess})
			return []*server{s}, err
		}},
		{name: noConnect, start: func() ([]*server, error) {
			s, err := e.startGateway(ctx, "connect-none", gateway.Config{})
			return []*server{s}, err
		}},
		{name: httpConnect, start: func() ([]*server, error) {
			b, err := e.startBackend(ctx)
			if err != nil {
				return nil, err
			}
			bs := &server{name: "backend", pid: b.PID(), stop: func() error { return b.Stop(5 * time.Second) }}
			s, err := e.startGateway(ctx, "connect-http", gateway.Config{ConnectURL: b.URL + "connect"})
			if err != nil {
				return []*server{bs}, err
			}
			return []*server{bs, s}, nil
		}},
	})
	rate := func(name string) float64 {
		if r := results[name][0]; r != nil {
			return r.stats.Rate()
		}
		return 0
	}
	sc.Checks = append(sc.Checks,
		report.NewCheck("handshakes/s, switchboard no $connect ÷ bare accept+upgrade", report.Ratio(rate(noConnect), rate(bare)), "×", ">=", 0.8),
		report.NewCheck("handshakes/s, switchboard with $connect ÷ bare accept+upgrade", report.Ratio(rate(httpConnect), rate(bare)), "×", "", 0))
	sc.Notef("Latency is dial to upgraded, measured by the client. The client resets each socket (SO_LINGER 0) so that no TIME_WAIT piles up; the bare server never reads and closes the oldest held socket beyond %d.", e.Profile.PerProcess)
	return sc
}
