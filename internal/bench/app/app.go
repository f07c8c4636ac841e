// Package app wires `switchboard-bench run`: it finds the repository,
// builds the gateway under test once, runs the selected scenarios with
// the chosen profile, prints their tables and writes the results as JSON.
package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/gateway"
	"github.com/switchboardgw/switchboard/internal/bench/report"
	"github.com/switchboardgw/switchboard/internal/bench/scenario"
)

// Options are the flags of `switchboard-bench run`.
type Options struct {
	Scenarios   string // comma-separated, or "all"
	Profile     string // smoke, quick, full
	JSON        bool   // JSON on stdout, tables on stderr
	Results     string // directory for <date>-<commit>.json ("" for none)
	ProfileDir  string // CPU and allocs profiles of the gateways
	Switchboard string // prebuilt gateway binary ("" builds ./cmd/switchboard)
	Repo        string // repository root ("" finds it from the working directory)
	Timeout     time.Duration
	Verbose     bool // children's stderr on stderr
	// NoServerless skips the serverless-offline baseline.
	NoServerless bool
	// Self is the switchboard-bench executable to re-execute ("" for os.Executable).
	Self string
	// Command is how the run was invoked, for the record.
	Command string
}

// Timeouts per profile when Options.Timeout is zero.
var defaultTimeouts = map[string]time.Duration{"smoke": 2 * time.Minute, "quick": 4 * time.Minute, "full": 30 * time.Minute}

// Run performs a benchmark run and returns the results (also printed and
// written as Options say).
func Run(ctx context.Context, opt Options, stdout, stderr io.Writer) (*report.Run, error) {
	start := time.Now()
	prof, err := scenario.ProfileNamed(opt.Profile)
	if err != nil {
		return nil, err
	}
	names, err := scenario.Select(opt.Scenarios)
	if err != nil {
		return nil, err
	}
	if opt.Timeout == 0 {
		opt.Timeout = defaultTimeouts[prof.Name]
	}
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()

	repo := opt.Repo
	if repo == "" {
		if repo, err = gateway.FindRepo("."); err != nil && opt.Switchboard == "" {
			return nil, err
		}
	}
	self := opt.Self
	if self == "" {
		if self, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if opt.ProfileDir != "" {
		if err := os.MkdirAll(opt.ProfileDir, 0o755); err != nil {
			return nil, err
		}
	}

	tables := stdout
	if opt.JSON {
		tables = stderr
	}
	env := &scenario.Env{Self: self, Repo: repo, Dir: dir, ProfileDir: opt.ProfileDir, Profile: prof, Log: stderr,
		NoServerless: opt.NoServerless}
	if opt.Verbose {
		env.ChildStderr = stderr
	}
	env.Gateway = opt.Switchboard
	if env.Gateway == "" {
		fmt.Fprintf(stderr, "%s building ./cmd/switchboard\n", time.Now().Format("15:04:05"))
		if env.Gateway, err = gateway.Build(ctx, repo, dir); err != nil {
			return nil, err
		}
	}

	run := &report.Run{Date: time.Now().Format("2006-01-02"), Commit: commit(repo), Profile: prof.Name,
		Command: opt.Command, Machine: report.DescribeMachine()}
	run.LoadAvg[0] = report.LoadAvg()
	run.Header(tables)
	run.Scenarios = scenario.Run(ctx, env, names, func(sc *report.Scenario) { sc.Markdown(tables) })
	run.Seconds = time.Since(start).Seconds()
	run.LoadAvg[1] = report.LoadAvg()
	run.Summary(tables)

	if opt.JSON {
		if err := run.JSON(stdout); err != nil {
			return run, err
		}
	}
	if opt.Results != "" {
		path, err := writeResults(opt.Results, run)
		if err != nil {
			return run, err
		}
		fmt.Fprintf(stderr, "results: %s\n", path)
	}
	var failed []string
	for _, sc := range run.Scenarios {
		if sc.Error != "" {
			failed = append(failed, sc.Name)
		}
	}
	if len(failed) > 0 {
		return run, fmt.Errorf("scenarios with errors: %s", strings.Join(failed, ", "))
	}
	return run, nil
}

// writeResults writes DIR/<date>-<commit>.json (quick) or
// DIR/<date>-<commit>-<profile>.json.
func writeResults(dir string, run *report.Run) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	name := run.Date + "-" + strings.TrimSuffix(run.Commit, "+dirty")
	if run.Profile != "quick" {
		name += "-" + run.Profile
	}
	path := filepath.Join(dir, name+".json")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := run.JSON(f); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// commit is HEAD's short hash, with "+dirty" when the tree has changes.
func commit(repo string) string {
	if repo == "" {
		return "unknown"
	}
	out, err := exec.Command("git", "-C", repo, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", repo, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += "+dirty"
	}
	return c
}
