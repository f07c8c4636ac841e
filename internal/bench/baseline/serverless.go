package baseline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/probe"
	"github.com/switchboardgw/switchboard/internal/bench/proc"
)

// ServerlessDir is where the serverless-offline baseline lives, relative
// to the repository root.
const ServerlessDir = "bench/serverless-offline"

// ErrUnavailable reports that a baseline cannot run here; the error says why.
var ErrUnavailable = errors.New("baseline unavailable")

// Serverless is a running serverless-offline echo API: start.mjs, and
// the serverless process it starts in a process group of its own.
type Serverless struct {
	// WS is the URL from its READY line.
	WS string
	*proc.Process
	// groups are the process groups start.mjs started (serverless).
	groups []int
}

// RSS sums the resident memory of the serverless process group(s): the
// gateway emulator with the handler in it, not the start.mjs wrapper.
func (s *Serverless) RSS() (uint64, error) {
	var total uint64
	for _, g := range s.groups {
		rss, err := probe.GroupRSS(g)
		if err != nil {
			return 0, err
		}
		total += rss
	}
	if len(s.groups) == 0 {
		return 0, errors.New("serverless-offline: no serverless process group found")
	}
	return total, nil
}

// Stop stops start.mjs (which stops serverless) and then kills the
// serverless process groups, in case start.mjs could not.
func (s *Serverless) Stop(grace time.Duration) error {
	err := s.Process.Stop(grace)
	for _, g := range s.groups {
		syscall.Kill(-g, syscall.SIGKILL)
	}
	return err
}

// StartServerless starts the serverless-offline baseline of repo: `npm ci`
// when node_modules is missing, then `node bench/serverless-offline/start.mjs`
// with PORT set, until it prints `READY ws://127.0.0.1:PORT/STAGE`. An
// absent directory or start script is ErrUnavailable.
func StartServerless(ctx context.Context, repo string, stderr io.Writer) (*Serverless, error) {
	dir := filepath.Join(repo, ServerlessDir)
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("%w: %s is absent", ErrUnavailable, ServerlessDir)
	}
	if _, err := os.Stat(filepath.Join(dir, "start.mjs")); err != nil {
		return nil, fmt.Errorf("%w: %s/start.mjs is absent", ErrUnavailable, ServerlessDir)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return nil, fmt.Errorf("%w: node is not installed", ErrUnavailable)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		npmCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(npmCtx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%w: npm ci in %s: %v\n%s", ErrUnavailable, ServerlessDir, err, out)
		}
	}
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", filepath.Join(ServerlessDir, "start.mjs"))
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
	p, err := proc.Start("serverless-offline", cmd, proc.Options{Stderr: stderr})
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	line, err := p.WaitLine(wctx, func(l string) bool { return strings.HasPrefix(l, "READY ws://") })
	if err != nil {
		p.Stop(5 * time.Second)
		return nil, fmt.Errorf("serverless-offline did not print READY: %w", err)
	}
	go drain(p)
	return &Serverless{WS: strings.TrimSpace(strings.TrimPrefix(line, "READY ")), Process: p, groups: probe.ChildGroups(p.PID())}, nil
}

// drain keeps reading a child's stdout so that it never blocks writing.
func drain(p *proc.Process) {
	for {
		if _, err := p.ReadLine(context.Background()); err != nil {
			return
		}
	}
}
