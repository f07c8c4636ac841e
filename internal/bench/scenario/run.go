package scenario

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/report"
)

// Func runs one scenario.
type Func func(context.Context, *Env) *report.Scenario

// All lists the scenarios in the order a run takes them.
var All = []struct {
	Name string
	Run  Func
}{
	{"idle", Idle},
	{"connect", Connect},
	{"echo", Echo},
	{"routed", Routed},
	{"post", Post},
	{"churn", Churn},
}

// Select resolves a comma-separated list of names ("all" for every one).
func Select(names string) ([]string, error) {
	if names == "" || names == "all" {
		var all []string
		for _, s := range All {
			all = append(all, s.Name)
		}
		return all, nil
	}
	var out []string
	for _, n := range strings.Split(names, ",") {
		n = strings.TrimSpace(n)
		if lookup(n) == nil {
			return nil, fmt.Errorf("unknown scenario %q (want idle, connect, echo, routed, post, churn or all)", n)
		}
		out = append(out, n)
	}
	return out, nil
}

func lookup(name string) Func {
	for _, s := range All {
		if s.Name == name {
			return s.Run
		}
	}
	return nil
}

// Run runs the named scenarios one after the other. A scenario that fails
// is reported with its error, and the run goes on; ctx bounds it all.
func Run(ctx context.Context, e *Env, names []string, done func(*report.Scenario)) []*report.Scenario {
	var out []*report.Scenario
	for _, name := range names {
		if ctx.Err() != nil {
			why := "the run was interrupted"
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				why = "the run's deadline (--timeout) passed"
			}
			sc := &report.Scenario{Name: name, Error: "not run: " + why}
			out = append(out, sc)
			if done != nil {
				done(sc)
			}
			continue
		}
		start := time.Now()
		sc := lookup(name)(ctx, e)
		sc.Error = strings.TrimSpace(sc.Error)
		e.logf("%s: done in %.1f s", name, time.Since(start).Seconds())
		out = append(out, sc)
		if done != nil {
			done(sc)
		}
	}
	return out
}
