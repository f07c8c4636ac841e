package baseline

import (
	"context"
	"io"
	"os/exec"
	"strconv"

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
	var info Info
	p, err := proc.StartReady(ctx, "bare-"+opt.Mode, exec.Command(self, args...), proc.Options{Stderr: stderr}, &info)
	if err != nil {
		return nil, err
	}
	return &Running{Info: info, Process: p}, nil
}
