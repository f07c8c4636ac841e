// Package proc starts and stops the benchmark's child processes (gateways,
// bare servers, the trivial backend, load workers, serverless-offline):
// each in its own process group, killed with the benchmark on Linux
// (Pdeathsig), read line by line on stdout, and stopped with SIGTERM then
// SIGKILL to the whole group.
package proc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a running child.
type Process struct {
	Name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{}
	err   error // set before done closes
	tail  *tailWriter
}

// Options tune Start.
type Options struct {
	// Stdin, when true, gives the child a pipe for stdin (see Stdin).
	Stdin bool
	// Stderr also receives the child's stderr, each line prefixed with the
	// process's name. Nil discards it (the last 4 KiB are kept for errors).
	Stderr io.Writer
}

// Start runs cmd in a new process group. The child is sent SIGKILL if the
// benchmark dies (Linux). Its stdout is read line by line (ReadLine).
//
// Its stdout and stderr are plain pipes read by goroutines of their own, so
// that the child's exit is noticed even while a grandchild still holds them.
func Start(name string, cmd *exec.Cmd, opt Options) (*Process, error) {
	p := &Process{Name: name, cmd: cmd, lines: make(chan string, 256), done: make(chan struct{}),
		tail: &tailWriter{prefix: name + ": ", also: opt.Stderr}}
	cmd.SysProcAttr = sysProcAttr()
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	if opt.Stdin {
		if p.stdin, err = cmd.StdinPipe(); err != nil {
			return nil, err
		}
	}
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		defer outR.Close()
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	stderrDone := make(chan struct{})
	go func() {
		defer close(stderrDone)
		defer errR.Close()
		io.Copy(p.tail, errR)
	}()
	go func() {
		p.err = cmd.Wait()
		// Let the copier take the child's last stderr lines for the exit
		// error; a grandchild holding the pipe must not hold us up.
		select {
		case <-stderrDone:
		case <-time.After(200 * time.Millisecond):
		}
		close(p.done)
	}()
	return p, nil
}

// PID is the child's process id (and its process group id).
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Signal sends sig to the child (not to its group).
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Stdin is the child's stdin pipe (nil without Options.Stdin).
func (p *Process) Stdin() io.WriteCloser { return p.stdin }

// Done is closed when the child has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the child's exit error, once Done is closed.
func (p *Process) Err() error { return p.err }

// StderrTail returns the last few KiB the child wrote to stderr.
func (p *Process) StderrTail() string { return p.tail.String() }

// ReadLine returns the next line of stdout, waiting at most until ctx ends.
func (p *Process) ReadLine(ctx context.Context) (string, error) {
	select {
	case line, ok := <-p.lines:
		if ok {
			return line, nil
		}
		<-p.done
	case <-p.done:
		// Lines written before the exit may still be on their way.
		select {
		case line, ok := <-p.lines:
			if ok {
				return line, nil
			}
		case <-time.After(100 * time.Millisecond):
		}
	case <-ctx.Done():
		return "", fmt.Errorf("%s: waiting for output: %w", p.Name, ctx.Err())
	}
	return "", p.exitError()
}

// WaitLine reads lines until match returns true for one, which it returns.
func (p *Process) WaitLine(ctx context.Context, match func(string) bool) (string, error) {
	for {
		line, err := p.ReadLine(ctx)
		if err != nil {
			return "", err
		}
		if match(line) {
			return line, nil
		}
	}
}

func (p *Process) exitError() error {
	msg := fmt.Sprintf("%s exited", p.Name)
	if p.err != nil {
		msg += ": " + p.err.Error()
	}
	if t := strings.TrimSpace(p.tail.String()); t != "" {
		msg += "\n" + t
	}
	return errors.New(msg)
}

// Stop sends SIGTERM, waits up to grace for the child to exit, then kills
// its whole process group. It returns the child's exit error unless the
// child had to be killed or exited because of SIGTERM.
func (p *Process) Stop(grace time.Duration) error {
	if p.stdin != nil {
		p.stdin.Close()
	}
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			killGroup(p.cmd)
			<-p.done
			return fmt.Errorf("%s did not stop within %v after SIGTERM; killed", p.Name, grace)
		}
	}
	killGroup(p.cmd) // grandchildren (node's workers) may outlive the child
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return nil
		}
	}
	if p.err != nil {
		return p.exitError()
	}
	return nil
}

// Close closes stdin and waits up to grace for the child to exit on its
// own, then stops it like Stop.
func (p *Process) Close(grace time.Duration) error {
	if p.stdin != nil {
		p.stdin.Close()
	}
	select {
	case <-p.done:
		killGroup(p.cmd)
		if p.err != nil {
			return p.exitError()
		}
		return nil
	case <-time.After(grace):
		return p.Stop(grace)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tailWriter keeps the last 4 KiB written and copies whole lines, prefixed,
// to also.
type tailWriter struct {
	mu     sync.Mutex
	prefix string
	also   io.Writer
	buf    []byte
	line   []byte
}

const tailBytes = 4 << 10

func (w *tailWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	if len(w.buf) > tailBytes {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-tailBytes:]...)
	}
	if w.also != nil {
		w.line = append(w.line, b...)
		for {
			i := strings.IndexByte(string(w.line), '\n')
			if i < 0 {
				break
			}
			fmt.Fprintf(w.also, "%s%s\n", w.prefix, w.line[:i])
			w.line = w.line[i+1:]
		}
	}
	return len(b), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

// StartReady starts cmd and waits (up to 30 s) for its first stdout line
// that is a JSON object, decoded into ready: the way every child of the
// bench tool announces its address. On failure the child is stopped.
func StartReady(ctx context.Context, name string, cmd *exec.Cmd, opt Options, ready any) (*Process, error) {
	p, err := Start(name, cmd, opt)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	line, err := p.WaitLine(ctx, func(l string) bool { return strings.HasPrefix(l, "{") })
	if err == nil {
		if err = json.Unmarshal([]byte(line), ready); err != nil {
			err = fmt.Errorf("%s: ready line %q: %w", name, line, err)
		}
	}
	if err != nil {
		p.Stop(time.Second)
		return nil, err
	}
	return p, nil
}
