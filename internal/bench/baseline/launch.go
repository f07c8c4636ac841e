package baseline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/proc"
)

// Running is a bare server started as a child process.
type Running struct {
	Info
	*proc.Process
}

// Start runs `self bare --mode ...` and waits for its Info line.
func Start(ctx context.Context, self string, opt Options, stderr io.Writer) (*Running, error) {
	args := []string{"bare", "--mode", opt.Mode}
	if opt.Backend != "" {
		args = append(args, "--backend", opt.Backend)
	}
	if opt.Hold > 0 {
		args = append(args, "--hold", strconv.Itoa(opt.Hold))
	}
	if opt.Inflight > 0 {
		args = append(args, "--inflight", strconv.Itoa(opt.Inflight))
	}
	p, err := proc.Start("bare-"+opt.Mode, exec.Command(self, args...), proc.Options{Stderr: stderr})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	line, err := p.WaitLine(ctx, func(l string) bool { return strings.HasPrefix(l, "{") })
	if err != nil {
		p.Stop(time.Second)
		return nil, err
	}
	var info Info
	if err := json.Unmarshal([]byte(line), &info); err != nil {
		p.Stop(time.Second)
		return nil, fmt.Errorf("bare %s: ready line %q: %w", opt.Mode, line, err)
	}
	return &Running{Info: info, Process: p}, nil
}
