package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/switchboardgw/switchboard/internal/bench/report"
)

// TestMain lets the test binary stand in for switchboard-bench when the
// run re-executes itself as a worker, a bare server or the backend.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "worker", "bare", "backend":
			os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		}
	}
	os.Exit(m.Run())
}

// TestRunEchoSmoke runs the echo scenario end to end against a freshly
// built gateway and the bare echo server, with a few connections for about
// a second per load, and checks the JSON it prints.
func TestRunEchoSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway")
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--scenario", "echo", "--profile", "smoke", "--serverless=false", "--json", "--timeout", "50s"},
		nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	var res report.Run
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not the JSON results: %v\n%s", err, stdout.String())
	}
	if res.Profile != "smoke" || len(res.Scenarios) != 1 || res.Scenarios[0].Name != "echo" {
		t.Fatalf("results = %+v", res)
	}
	sc := res.Scenarios[0]
	if sc.Error != "" {
		t.Fatalf("echo scenario error: %s", sc.Error)
	}
	seen := map[string]int{}
	for _, row := range sc.Rows {
		if row.Note != "" {
			continue
		}
		seen[row.System]++
		if row.Values["rate"] <= 0 {
			t.Errorf("%s %s: no throughput: %v", row.System, row.Variant, row.Values)
		}
		if row.Values["errors"] != 0 {
			t.Errorf("%s %s: %v errors; notes: %q", row.System, row.Variant, row.Values["errors"], sc.Notes)
		}
	}
	if seen["switchboard"] != 3 || seen["bare echo"] != 3 || seen["switchboard logs+metrics"] != 2 {
		t.Errorf("rows per system = %v, want 3 loads each for switchboard and bare echo, 2 with logs and metrics", seen)
	}
	if len(sc.Checks) == 0 {
		t.Error("no checks")
	}
	// The gateway with access logs and metrics: its counts match the load
	// generator's, and the log's lines are counted per load.
	ratios, logChecks := 0, 0
	for _, c := range sc.Checks {
		switch {
		case strings.Contains(c.Name, "with access logs and metrics ÷ switchboard"):
			ratios++
			if c.Target != 0.9 || c.Skipped != "" {
				t.Errorf("check %+v", c)
			}
		case strings.HasPrefix(c.Name, "logs+metrics: /metrics MessageCount"):
			if c.Met == nil || !*c.Met {
				t.Errorf("metrics do not match the load generator: %+v; notes: %q", c, sc.Notes)
			}
		case strings.HasPrefix(c.Name, "logs+metrics: access log lines missing"):
			logChecks++
			if c.Skipped != "" || c.Value < 0 {
				t.Errorf("check %+v; notes: %q", c, sc.Notes)
			}
		}
	}
	if ratios != 2 || logChecks != 2 {
		t.Errorf("%d logs+metrics ratio checks, %d access log checks; want 2 each: %+v", ratios, logChecks, sc.Checks)
	}
	if !strings.Contains(stderr.String(), "### echo") {
		t.Errorf("the table should go to stderr with --json:\n%s", stderr.String())
	}
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "Usage") {
		t.Errorf("no arguments: exit %d, %q", code, errb.String())
	}
	if code := run([]string{"nope"}, nil, &out, &errb); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
	if code := run([]string{"run", "--profile", "huge"}, nil, &out, &errb); code != 1 || !strings.Contains(errb.String(), "unknown profile") {
		t.Errorf("bad profile: exit %d, %q", code, errb.String())
	}
}
