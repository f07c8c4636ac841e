package backend

import (
	"context"
	"io"
	"os/exec"

	"github.com/switchboardgw/switchboard/internal/bench/proc"
)

// Running is the backend started as a child process.
type Running struct {
	Info
	*proc.Process
}

// Start runs `self backend` and waits for its Info line.
func Start(ctx context.Context, self string, stderr io.Writer) (*Running, error) {
	var info Info
	p, err := proc.StartReady(ctx, "backend", exec.Command(self, "backend"), proc.Options{Stderr: stderr}, &info)
	if err != nil {
		return nil, err
	}
	return &Running{Info: info, Process: p}, nil
}
