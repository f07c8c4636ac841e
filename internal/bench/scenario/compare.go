package scenario

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/switchboardgw/switchboard/internal/bench/loadgen"
	"github.com/switchboardgw/switchboard/internal/bench/report"
	"github.com/switchboardgw/switchboard/internal/bench/worker"
)

// system is one server setup a scenario measures; the last server start
// returns is the one the load targets (before it: its backend).
type system struct {
	name  string
	start func() ([]*server, error)
	// only, when set, picks the variants this system runs (nil: every one).
	only func(variant) bool
	// observe, when set, is told about each of its runs: the stats, or the
	// error of a run that failed.
	observe func(v variant, st *loadgen.Stats, err error)
}

// runs reports whether sys runs v.
func (sys *system) runs(v variant) bool { return sys.only == nil || sys.only(v) }

// variant is one load shape: a worker job without its targets.
type variant struct {
	label string
	job   worker.Job
}

// variantResult is one system's figures for one variant.
type variantResult struct {
	stats loadgen.Stats
	rss   uint64
}

// compare measures every variant against every system and adds a row for
// each. Every system is started first; then, for each variant, the systems
// take turns, Profile.Rounds times, so that the figures in a ratio are
// measured seconds apart. With several rounds the row shows the round with
// the median rate, and a note lists every round's rate. It returns the
// results by system name, in variant order (nil where a run failed).
func (e *Env) compare(ctx context.Context, sc *report.Scenario, w Window, variants []variant, systems []system) map[string][]*variantResult {
	out := map[string][]*variantResult{}
	started := map[string][]*server{}
	defer func() {
		for _, sys := range systems {
			if err := stopAll(started[sys.name]...); err != nil {
				sc.Error += fmt.Sprintf("stopping %s: %v\n", sys.name, err)
			}
		}
	}()
	for _, sys := range systems {
		out[sys.name] = make([]*variantResult, len(variants))
		servers, err := sys.start()
		if err != nil {
			stopAll(servers...)
			sc.Error += fmt.Sprintf("%s: %v\n", sys.name, err)
			continue
		}
		started[sys.name] = servers
	}
	rounds := max(e.Profile.Rounds, 1)
	for i, v := range variants {
		runs := map[string][]*variantResult{}
		for r := range rounds {
			for _, sys := range systems {
				servers := started[sys.name]
				if servers == nil || !sys.runs(v) {
					continue
				}
				target := servers[len(servers)-1]
				label := strings.TrimSpace(sys.name + " " + v.label)
				if rounds > 1 {
					label += fmt.Sprintf(" round %d", r+1)
				}
				e.logf("%s: %s", sc.Name, label)
				job := v.job
				job.Targets = []string{target.ws}
				res, err := e.run(ctx, sc, label, w, servers[len(servers)-1:], job)
				if err != nil {
					sc.Error += fmt.Sprintf("%s: %v\n", label, err)
					if sys.observe != nil {
						sys.observe(v, nil, err)
					}
					continue
				}
				if sys.observe != nil {
					sys.observe(v, &res.stats[0], nil)
				}
				runs[sys.name] = append(runs[sys.name], &variantResult{stats: res.stats[0], rss: res.rss[0]})
			}
		}
		for _, sys := range systems {
			if !sys.runs(v) {
				continue
			}
			rs := runs[sys.name]
			if len(rs) == 0 {
				sc.AddNote(sys.name, v.label, "failed")
				continue
			}
			r := median(rs)
			out[sys.name][i] = r
			vals := latencyValues(&r.stats, map[string]float64{"rate": r.stats.Rate(), "rss": float64(r.rss) / (1 << 20)})
			if v.job.Echo.Rate > 0 {
				vals["offered"] = float64(r.stats.Sent) / r.stats.Seconds
			}
			sc.Add(sys.name, v.label, vals)
			for _, x := range rs {
				noteErrors(sc, sys.name+" "+v.label, &x.stats)
			}
			if len(rs) > 1 {
				var rates []string
				for _, x := range rs {
					rates = append(rates, report.Format(x.stats.Rate(), "int"))
				}
				sc.Notef("%s: rates over %d rounds: %s (the row is the median round)",
					strings.TrimSuffix(sys.name+", "+v.label, ", "), len(rs), strings.Join(rates, " · "))
			}
		}
	}
	return out
}

// median returns the result with the median rate (the lower middle one
// for an even count).
func median(rs []*variantResult) *variantResult {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b *variantResult) int {
		switch ra, rb := a.stats.Rate(), b.stats.Rate(); {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return 0
	})
	return sorted[(len(sorted)-1)/2]
}
