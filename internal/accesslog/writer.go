package accesslog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Options.
const (
	DefaultBufferSize    = 1 << 20
	DefaultFlushInterval = time.Second
)

// maxFlushChunk is how much a buffer holds before the writer goroutine is
// woken ahead of its interval.
const maxFlushChunk = 64 << 10

// ErrClosed is returned by Flush, Reopen (on a file) and SetDestination on a
// closed Writer.
var ErrClosed = errors.New("access log writer is closed")

// Options tune a Writer. The zero value is usable.
type Options struct {
	// BufferSize bounds the bytes of lines waiting to be written (default
	// 1 MiB). A line that does not fit is dropped and counted (Stats.Dropped):
	// a slow or stuck destination never slows the gateway down. The Writer
	// holds two buffers of this size.
	BufferSize int
	// FlushInterval is the longest a line waits in memory before it is
	// written (default 1 s). A buffer filling up is written sooner.
	FlushInterval time.Duration
	// Logger reports failed writes (the first of a run, and the recovery);
	// nil reports nothing: Stats.Lost still counts the lines.
	Logger *slog.Logger
}

// Stats counts a Writer's lines since it was opened.
type Stats struct {
	// Lines is the number of lines accepted.
	Lines uint64
	// Dropped is the number of lines refused: the buffer was full (the
	// destination is not keeping up), the line was longer than the whole
	// buffer, or the Writer was closed.
	Dropped uint64
	// Lost is the number of accepted lines a failed write lost.
	Lost uint64
}

// Writer writes access-log lines to a file or a stream (stdout). It is safe
// for concurrent use. A caller only copies its line into a memory buffer
// under a mutex; one goroutine writes the buffer out, swapping it for a
// second one so that callers go on while it writes, when a chunk has
// accumulated or FlushInterval has passed. Lines are written whole and in
// the order they were accepted. A Writer holds that goroutine until Close.
//
// The same goroutine opens and closes files, for Reopen and SetDestination,
// between two writes: a line goes either to the old destination or to the
// new one, whole.
type Writer struct {
	size      int
	threshold int
	interval  time.Duration
	log       *slog.Logger

	mu     sync.Mutex
	buf    []byte // lines waiting, at most size bytes; guarded by mu
	closed bool   // guarded by mu

	lines, dropped, lost atomic.Uint64

	// dest is the destination as Destination reports it; set by run (and
	// before run starts).
	dest atomic.Pointer[string]

	kick chan struct{} // wakes run for a full chunk; capacity 1
	reqs chan request
	done chan struct{} // closed when run returns

	// Owned by run.
	out     io.Writer
	path    string   // the file's path; "" for a stream
	file    *os.File // out, when the Writer opened it; closed by Close, Reopen and SetDestination
	spare   []byte
	failing bool
	torn    bool // a failed write stopped inside a line: start the next one with a newline
}

type request struct {
	op    uint8
	dest  string // opSetDestination's destination
	reply chan error
}

const (
	opFlush uint8 = iota
	opReopen
	opSetDestination
	opClose
)

// stdout is the name Destination reports for standard output.
const stdout = "stdout"

// Open returns a Writer appending to the file at path (created with mode
// 0640 if needed), or writing to standard output if path is "-" or
// "stdout".
func Open(path string, opts Options) (*Writer, error) {
	d, err := openDestination(path)
	if err != nil {
		return nil, err
	}
	w := newWriter(d.out, opts)
	w.path, w.file = d.path, d.file
	w.dest.Store(&d.name)
	go w.run()
	return w, nil
}

// NewWriter returns a Writer writing to out, which it does not close, also
// when SetDestination moves it elsewhere. Reopen does nothing on it.
func NewWriter(out io.Writer, opts Options) *Writer {
	w := newWriter(out, opts)
	w.dest.Store(new(""))
	go w.run()
	return w
}

func newWriter(out io.Writer, opts Options) *Writer {
	size := opts.BufferSize
	if size <= 0 {
		size = DefaultBufferSize
	}
	interval := opts.FlushInterval
	if interval <= 0 {
		interval = DefaultFlushInterval
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Writer{
		size:      size,
		threshold: min(size/2, maxFlushChunk),
		log:       log,
		buf:       make([]byte, 0, size),
		kick:      make(chan struct{}, 1),
		reqs:      make(chan request),
		done:      make(chan struct{}),
		out:       out,
		spare:     make([]byte, 0, size),
		interval:  interval,
	}
}

// destination is an opened destination.
type destination struct {
	out  io.Writer
	file *os.File // out, if it is a file opened here
	path string   // the file's path; "" for standard output
	name string   // what Destination reports
}

// openDestination opens dest: standard output for "-" and "stdout",
// otherwise the file at dest, appended to and created with mode 0640 if
// needed.
func openDestination(dest string) (destination, error) {
	if dest == "-" || dest == stdout {
		return destination{out: os.Stdout, name: stdout}, nil
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return destination{}, fmt.Errorf("open access log: %w", err)
	}
	return destination{out: f, file: f, path: dest, name: dest}, nil
}

// linePool holds the buffers Log renders lines in.
var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Log renders rec with f and writes the line. It reports whether the line
// was accepted (see Stats.Dropped).
func (w *Writer) Log(f *Format, rec *Record) bool {
	bp := linePool.Get().(*[]byte)
	line := append(f.Append((*bp)[:0], rec), '\n')
	ok := w.put(line, false)
	if cap(line) <= 64<<10 {
		*bp = line
		linePool.Put(bp)
	}
	return ok
}

// WriteLine writes line, followed by a newline, and reports whether it was
// accepted (see Stats.Dropped). line should not contain a newline.
func (w *Writer) WriteLine(line []byte) bool {
	return w.put(line, true)
}

func (w *Writer) put(line []byte, newline bool) bool {
	n := len(line)
	if newline {
		n++
	}
	w.mu.Lock()
	before := len(w.buf)
	if w.closed || before+n > w.size {
		w.mu.Unlock()
		w.dropped.Add(1)
		return false
	}
	w.buf = append(w.buf, line...)
	if newline {
		w.buf = append(w.buf, '\n')
	}
	w.mu.Unlock()
	w.lines.Add(1)
	if before < w.threshold && before+n >= w.threshold {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return true
}

// Stats returns the Writer's counts.
func (w *Writer) Stats() Stats {
	return Stats{Lines: w.lines.Load(), Dropped: w.dropped.Load(), Lost: w.lost.Load()}
}

// Flush writes the lines accepted so far and returns the write's error.
func (w *Writer) Flush() error { return w.call(request{op: opFlush}) }

// Reopen writes the lines accepted so far to the file, then opens the file
// by its path again and goes on writing there: after a log rotator has
// renamed the file, on SIGHUP. It is SetDestination with the current path.
// If the file cannot be opened, the Writer goes on with the old one and
// Reopen returns the error. On a stream (standard output, or one given to
// NewWriter), Reopen does nothing and returns nil, also after Close.
func (w *Writer) Reopen() error {
	err := w.call(request{op: opReopen})
	if err == ErrClosed && w.path == "" { // run has returned: path no longer changes
		return nil
	}
	return err
}

// SetDestination writes the lines accepted so far to the current
// destination, then opens dest, as Open does ("-" or "stdout": standard
// output; otherwise the file, appended to and created with mode 0640 if
// needed), and writes every later line there. It is safe to call while
// other goroutines log: each line goes whole to one destination, in order.
//
// The file the Writer was writing to, if it opened it, is closed; a stream
// given to NewWriter is not. If closing fails, the switch has happened
// nonetheless and SetDestination returns the error. If dest cannot be
// opened, nothing changes and SetDestination returns the error. Setting the
// current file's path again opens the file by its path anew, as Reopen
// does. On a closed Writer, SetDestination returns ErrClosed.
func (w *Writer) SetDestination(dest string) error {
	return w.call(request{op: opSetDestination, dest: dest})
}

// Destination returns the current destination as Open or SetDestination was
// given it ("stdout" for standard output, also given as "-"), or "" for a
// stream given to NewWriter.
func (w *Writer) Destination() string { return *w.dest.Load() }

// Close writes what is pending, closes the file (not a stream) and stops the
// Writer; later lines are dropped. Closing twice returns nil.
func (w *Writer) Close() error {
	w.mu.Lock()
	closed := w.closed
	w.closed = true
	w.mu.Unlock()
	if closed {
		<-w.done
		return nil
	}
	return w.call(request{op: opClose})
}

// call has run perform r and returns its error, or ErrClosed if run has
// returned.
func (w *Writer) call(r request) error {
	r.reply = make(chan error, 1)
	select {
	case w.reqs <- r:
		return <-r.reply
	case <-w.done:
		return ErrClosed
	}
}

// run is the Writer's goroutine: the only one that writes, opens or closes
// a destination.
func (w *Writer) run() {
	defer close(w.done)
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	for {
		select {
		case <-w.kick:
			w.flush()
		case <-tick.C:
			w.flush()
		case r := <-w.reqs:
			if r.op == opReopen && w.path == "" { // a stream: nothing to do
				r.reply <- nil
				continue
			}
			err := w.flush()
			switch r.op {
			case opReopen:
				err = errors.Join(err, w.setDestination(w.path))
			case opSetDestination:
				err = errors.Join(err, w.setDestination(r.dest))
			case opClose:
				if w.file != nil {
					err = errors.Join(err, w.file.Close())
				}
				r.reply <- err
				return
			}
			r.reply <- err
		}
	}
}

// flush writes the buffer out, swapped for the spare so that callers go on.
func (w *Writer) flush() error {
	w.mu.Lock()
	w.buf, w.spare = w.spare[:0], w.buf
	w.mu.Unlock()
	if len(w.spare) == 0 {
		return nil
	}
	var n int
	var err error
	if w.torn { // end the fragment a failed write left, so that it is not glued to the next line
		_, err = w.out.Write([]byte{'\n'})
		w.torn = err != nil
	}
	if err == nil {
		n, err = w.out.Write(w.spare)
	}
	if err == nil {
		if w.failing {
			w.failing = false
			w.log.Info("access log writes recovered", "path", w.path, "lost", w.lost.Load())
		}
		return nil
	}
	n = min(max(n, 0), len(w.spare))
	w.lost.Add(uint64(bytes.Count(w.spare[n:], []byte{'\n'})))
	if n > 0 && w.spare[n-1] != '\n' {
		w.torn = true
	}
	if !w.failing {
		w.failing = true
		w.log.Warn("access log write failed; lines are lost until writes succeed", "path", w.path, "err", err)
	}
	return fmt.Errorf("write access log: %w", err)
}

// setDestination opens dest and makes it the destination, then closes the
// file it replaces, if the Writer opened it. If dest cannot be opened, the
// destination stays as it was.
func (w *Writer) setDestination(dest string) error {
	d, err := openDestination(dest)
	if err != nil {
		return err
	}
	if d.file != nil || w.out != os.Stdout {
		// A fragment a failed write left stays at the end of the old
		// destination; the new one starts clean. Staying on standard
		// output, the next write still has to end the fragment.
		w.torn = false
	}
	old := w.file
	w.out, w.file, w.path = d.out, d.file, d.path
	w.dest.Store(&d.name)
	if old != nil {
		if err := old.Close(); err != nil {
			return fmt.Errorf("close previous access log: %w", err)
		}
	}
	return nil
}
