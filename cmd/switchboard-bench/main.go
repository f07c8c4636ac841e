// Command switchboard-bench is Switchboard's load generator and benchmark:
//
//	switchboard-bench run [--scenario all|idle,connect,echo,routed,post,churn] [--profile quick|full|smoke]
//	                      [--json] [--results DIR] [--profile-dir DIR] [--switchboard BIN] [--timeout D] [--serverless=false] [-v]
//	switchboard-bench worker     (a load worker; the run re-executes itself as one)
//	switchboard-bench bare --mode accept|echo|routed|broadcast|mgmt [--backend URL]
//	switchboard-bench backend    (the trivial AWS_PROXY backend)
//
// See bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/switchboardgw/switchboard/internal/bench/app"
	"github.com/switchboardgw/switchboard/internal/bench/backend"
	"github.com/switchboardgw/switchboard/internal/bench/baseline"
	"github.com/switchboardgw/switchboard/internal/bench/worker"
)

const usage = `Usage:
  switchboard-bench run [flags]      run scenarios against the gateway and baselines (see run --help)
  switchboard-bench worker           load worker: a job on stdin, JSON lines on stdout
  switchboard-bench bare --mode M    bare baseline server: accept, echo, routed, broadcast or mgmt
  switchboard-bench backend          trivial AWS_PROXY backend
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "run":
		return runBench(ctx, args[1:], stdout, stderr)
	case "worker":
		err = worker.Serve(ctx, stdin, stdout)
	case "bare":
		fs := flag.NewFlagSet("bare", flag.ContinueOnError)
		fs.SetOutput(stderr)
		var opt baseline.Options
		fs.StringVar(&opt.Mode, "mode", "", "one of "+strings.Join(baseline.Modes, ", "))
		fs.StringVar(&opt.Backend, "backend", "", "backend URL (routed)")
		fs.IntVar(&opt.Hold, "hold", 0, "sockets the accept mode holds (default 18000)")
		fs.IntVar(&opt.Inflight, "inflight", 0, "messages per connection in flight (routed; default 16)")
		if fs.Parse(args[1:]) != nil {
			return 2
		}
		err = baseline.Serve(ctx, opt, stdout)
	case "backend":
		err = backend.Serve(ctx, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "switchboard-bench: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "switchboard-bench %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opt app.Options
	fs.StringVar(&opt.Scenarios, "scenario", "all", "scenarios, comma-separated: idle, connect, echo, routed, post, churn, or all")
	fs.StringVar(&opt.Profile, "profile", "quick", "sizes and durations: smoke, quick or full")
	fs.BoolVar(&opt.JSON, "json", false, "print the results as JSON on stdout (tables go to stderr)")
	fs.StringVar(&opt.Results, "results", "", "write the results to DIR/<date>-<commit>.json")
	fs.StringVar(&opt.ProfileDir, "profile-dir", "", "write CPU and allocs profiles of each gateway process to DIR")
	fs.StringVar(&opt.Switchboard, "switchboard", "", "gateway binary to test (default: go build ./cmd/switchboard)")
	fs.StringVar(&opt.Repo, "repo", "", "repository root (default: found from the working directory)")
	fs.DurationVar(&opt.Timeout, "timeout", 0, "overall deadline (default: 2m smoke, 4m quick, 30m full)")
	fs.BoolVar(&opt.Verbose, "v", false, "show the child processes' stderr")
	serverless := fs.Bool("serverless", true, "measure the serverless-offline baseline (echo, routed) when bench/serverless-offline is there")
	if fs.Parse(args) != nil {
		return 2
	}
	opt.NoServerless = !*serverless
	opt.Command = "switchboard-bench run " + strings.Join(args, " ")
	if _, err := app.Run(ctx, opt, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "switchboard-bench run:", err)
		return 1
	}
	return 0
}
