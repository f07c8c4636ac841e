package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/baseline"
	"github.com/switchboardgw/switchboard/internal/bench/gateway"
	"github.com/switchboardgw/switchboard/internal/bench/loadgen"
	"github.com/switchboardgw/switchboard/internal/bench/report"
)

// Routed measures $default on an AWS_PROXY integration (an http URL of the
// trivial backend, which answers {"statusCode":200,"body":<event body>})
// against the bare routed echo (POST the message to the same backend, write
// the reply back) and serverless-offline.
func Routed(ctx context.Context, e *Env) *report.Scenario {
	p := e.Profile.Routed
	sc := &report.Scenario{Name: "routed", Columns: echoColumns,
		Setup: fmt.Sprintf("%d connections, %d-byte messages, every message through the trivial HTTP backend (a separate process); "+
			"saturation with %d in flight per connection, and a fixed %.0f msgs/s (open loop). %v warm-up, %v measured.",
			p.Conns, p.Size, p.Inflight, p.Rate, p.Warmup, p.Duration)}
	variants := []variant{
		echoLoad(fmt.Sprintf("%d × %d in flight", p.Conns, p.Inflight), p.Conns, loadgen.Echo{Action: "echo", Size: p.Size, Inflight: p.Inflight}),
		echoLoad(fmt.Sprintf("%d × fixed %.0f msgs/s", p.Conns, p.Rate), p.Conns, loadgen.Echo{Action: "echo", Size: p.Size, Rate: p.Rate}),
	}
	withBackend := func(start func(url string) (*server, error)) func() ([]*server, error) {
		return func() ([]*server, error) {
			b, err := e.startBackend(ctx)
			if err != nil {
				return nil, err
			}
			bs := &server{name: "backend", pid: b.PID(), stop: func() error { return b.Stop(5 * time.Second) }}
			s, err := start(b.URL)
			if err != nil {
				return []*server{bs}, err
			}
			return []*server{bs, s}, nil
		}
	}
	results := e.compare(ctx, sc, p.Window, variants, []system{
		{name: "bare routed echo", start: withBackend(func(url string) (*server, error) {
			return e.startBare(ctx, baseline.Options{Mode: "routed", Backend: url + "message"})
		})},
		{name: "switchboard", start: withBackend(func(url string) (*server, error) {
			return e.startGateway(ctx, "routed", gateway.Config{DefaultURL: url + "message"})
		})},
	})
	sb, bare := results["switchboard"], results["bare routed echo"]
	if sb[0] != nil && bare[0] != nil {
		sc.Checks = append(sc.Checks, report.NewCheck("msgs/s at saturation, switchboard AWS_PROXY ÷ bare routed echo",
			report.Ratio(sb[0].stats.Rate(), bare[0].stats.Rate()), "×", ">=", 0.75))
	}
	if sb[1] != nil {
		sc.Checks = append(sc.Checks, report.NewCheck(fmt.Sprintf("switchboard p99 at a fixed %.0f msgs/s", p.Rate),
			ms(sb[1].stats.Latency.Quantile(0.99)), "ms", "<=", 25))
		if bare[1] != nil {
			sc.Checks = append(sc.Checks, report.NewCheck(fmt.Sprintf("p99 at %.0f msgs/s, switchboard ÷ bare routed echo (lower is better)", p.Rate),
				report.Ratio(float64(sb[1].stats.Latency.Quantile(0.99)), float64(bare[1].stats.Latency.Quantile(0.99))), "×", "", 0))
		}
	}
	if sb[0] != nil {
		addServerless(sc, e.serverlessOffline(ctx, sc), "switchboard AWS_PROXY", &sb[0].stats, sb[0].rss, 20)
	}
	sc.Notef("RSS is the server's alone (not the backend's) at the end of the window; serverless-offline's is its serverless process group (the emulator with the handler in process), not counting the start.mjs wrapper (about 47 MiB).")
	return sc
}
