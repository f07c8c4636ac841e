package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/proc"
)

// Running is the backend started as a child process.
type Running struct {
	Info
	*proc.Process
}

// Start runs `self backend` and waits for its Info line.
func Start(ctx context.Context, self string, stderr io.Writer) (*Running, error) {
	p, err := proc.Start("backend", exec.Command(self, "backend"), proc.Options{Stderr: stderr})
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
		return nil, fmt.Errorf("backend: ready line %q: %w", line, err)
	}
	return &Running{Info: info, Process: p}, nil
}
