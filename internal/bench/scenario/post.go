package scenario

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/baseline"
	"github.com/switchboardgw/switchboard/internal/bench/gateway"
	"github.com/switchboardgw/switchboard/internal/bench/loadgen"
	"github.com/switchboardgw/switchboard/internal/bench/report"
	"github.com/switchboardgw/switchboard/internal/bench/worker"
)

// Post measures @connections POST throughput with SigV4-signed requests
// from keep-alive HTTP clients, and the delivery latency to the receiving
// connections, against the trivial net/http handler (200, no SigV4, no
// WebSocket) and the bare broadcast server (plain POST → precompiled
// frame → connection).
func Post(ctx context.Context, e *Env) *report.Scenario {
	p := e.Profile.Post
	sc := &report.Scenario{Name: "post",
		Setup: fmt.Sprintf("%d keep-alive HTTP clients POST %d-byte payloads back to back, round-robin over %d receiving connections, "+
			"each request signed with aws-sdk-go-v2's v4.Signer (execute-api, us-east-1); %v warm-up, %v measured. "+
			"Delivery latency: from the send time in the payload to its arrival at the client.", p.Clients, p.Size, p.Receivers, p.Warmup, p.Duration),
		Columns: []report.Column{
			{Key: "rate", Header: "POSTs/s", Format: "int"},
			{Key: "p50", Header: "POST p50 ms", Format: "f2"},
			{Key: "p99", Header: "POST p99 ms", Format: "f2"},
			{Key: "d50", Header: "delivery p50 ms", Format: "f2"},
			{Key: "d99", Header: "delivery p99 ms", Format: "f2"},
			{Key: "d999", Header: "delivery p99.9 ms", Format: "f2"},
			{Key: "errors", Header: "errors", Format: "int"},
		}}
	type sys struct {
		name     string
		receive  bool
		start    func() (*server, error)
		endpoint func(*server) string
	}
	systems := []sys{
		{"bare net/http 200", false, func() (*server, error) {
			return e.startBare(ctx, baseline.Options{Mode: "mgmt"})
		}, func(s *server) string { return s.http }},
		{"bare broadcast", true, func() (*server, error) {
			return e.startBare(ctx, baseline.Options{Mode: "broadcast"})
		}, func(s *server) string { return s.http }},
		{"switchboard", true, func() (*server, error) {
			return e.startGateway(ctx, "post", gateway.Config{WhoAmI: true})
		}, func(s *server) string { return s.http }},
	}
	rates := map[string]float64{}
	for _, sy := range systems {
		e.logf("post: %s", sy.name)
		s, err := sy.start()
		if err != nil {
			sc.AddNote(sy.name, "", "failed")
			sc.Error += fmt.Sprintf("%s: %v\n", sy.name, err)
			continue
		}
		vals, err := e.postOnce(ctx, sc, sy.name, s, sy.endpoint(s), sy.receive)
		if serr := s.stop(); serr != nil && err == nil {
			err = serr
		}
		if err != nil {
			sc.AddNote(sy.name, "", "failed")
			sc.Error += fmt.Sprintf("%s: %v\n", sy.name, err)
			continue
		}
		rates[sy.name] = vals["rate"]
		sc.Add(sy.name, "", vals)
	}
	sc.Checks = append(sc.Checks,
		report.NewCheck("POSTs/s, switchboard (SigV4) ÷ bare net/http 200", report.Ratio(rates["switchboard"], rates["bare net/http 200"]), "×", ">=", 0.4),
		report.NewCheck("POSTs/s, switchboard ÷ bare broadcast", report.Ratio(rates["switchboard"], rates["bare broadcast"]), "×", "", 0))
	sc.Notef("Every client signs every request, whatever the server checks, so the client's cost is the same in each row; the bare net/http handler has no connection to deliver to.")
	return sc
}

// postOnce runs the receivers (when receive) and the posters against s.
func (e *Env) postOnce(ctx context.Context, sc *report.Scenario, name string, s *server, endpoint string, receive bool) (map[string]float64, error) {
	p := e.Profile.Post
	win := worker.Job{Warmup: worker.Duration(p.Warmup), Duration: worker.Duration(p.Duration)}
	ids := []string{"bench="}
	var pools []*worker.Pool
	defer func() {
		for _, pl := range pools {
			pl.Stop()
		}
	}()
	if receive {
		job := win
		job.Kind, job.Targets, job.Conns, job.Grace = worker.KindReceive, []string{s.ws}, p.Receivers, worker.Duration(2*time.Second)
		pool, evs, err := e.launch(ctx, job, 1)
		if err != nil {
			return nil, err
		}
		pools = append(pools, pool)
		ids = ids[:0]
		for _, ev := range evs {
			ids = append(ids, ev.IDs...)
		}
	}
	job := win
	job.Kind, job.Concurrency = worker.KindPost, p.Clients
	job.Post = loadgen.Post{Endpoint: endpoint, IDs: ids, Size: p.Size, AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
	poster, _, err := e.launch(ctx, job, 1)
	if err != nil {
		return nil, err
	}
	pools = append([]*worker.Pool{poster}, pools...)
	stats, err := e.measure(ctx, sc, name, p.Window, []*server{s}, pools...)
	if err != nil {
		return nil, err
	}
	posted := &stats[0]
	vals := map[string]float64{"rate": posted.Rate(), "p50": ms(posted.Latency.Quantile(0.5)),
		"p99": ms(posted.Latency.Quantile(0.99)), "errors": float64(posted.Errors)}
	noteErrors(sc, name+" POST", posted)
	if receive {
		got := &stats[1]
		vals["d50"] = ms(got.Latency.Quantile(0.5))
		vals["d99"] = ms(got.Latency.Quantile(0.99))
		vals["d999"] = ms(got.Latency.Quantile(0.999))
		vals["errors"] += float64(got.Errors)
		noteErrors(sc, name+" delivery", got)
		if lost := posted.Total - got.Total; lost != 0 {
			vals["errors"] += float64(max(lost, -lost))
			sc.Notef("%s: %d POSTs answered 200 but %d messages delivered", name, posted.Total, got.Total)
		}
	}
	return vals, nil
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
