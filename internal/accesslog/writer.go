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
	"syscall"
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

// ErrClosed is returned by Flush, Reopen (on a file) and Retarget on a
// closed Writer.
var ErrClosed = errors.New("access log writer is closed")

// errTargetUsed is returned by Retarget and Target.Close for a Target
// already given to a Writer or closed.
var errTargetUsed = errors.New("access log target already given to a writer or closed")

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
	// Logger reports failed writes (the first of a run, and the recovery)
	// and failures to close a replaced file; nil reports nothing: Stats.Lost
	// still counts the lines.
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
	// Lost is the number of accepted lines a failed write lost, whichever
	// destination it was to.
	Lost uint64
}

// Writer writes access-log lines to a file or a stream (stdout). It is safe
// for concurrent use. A caller only copies its line into a memory buffer
// under a mutex; one goroutine writes the buffer out, swapping it for a
// second one so that callers go on while it writes, when a chunk has
// accumulated or FlushInterval has passed. Lines are written whole and in
// the order they were accepted. A Writer holds that goroutine until Close.
//
// The goroutine may be stuck for a long time inside a write (a full pipe, a
// failing disk). Logging, Retarget, Reopen, Destination and Stats never
// wait for it: they take the buffer's mutex, which the goroutine holds only
// to swap buffers. Retarget records where in the buffer the destination
// changes and hands the new destination over; the goroutine writes the
// lines before that point to the old destination, switches, closes the old
// file if the Writer opened it, and writes the rest to the new one. Flush
// and Close do wait for the goroutine.
type Writer struct {
	size      int
	threshold int
	interval  time.Duration
	log       *slog.Logger

	mu     sync.Mutex
	buf    []byte  // lines waiting, at most size bytes; guarded by mu
	splits []split // switches recorded in buf, by offset; guarded by mu
	closed bool    // guarded by mu

	lines, dropped, lost atomic.Uint64

	// latest is the destination of the latest Retarget (or Open, or
	// NewWriter): the one Destination reports and Reopen reopens. Stored
	// under mu, in the order the switches are recorded.
	latest atomic.Pointer[Target]

	kick chan struct{} // wakes run: a full chunk, or a switch; capacity 1
	reqs chan request
	done chan struct{} // closed when run returns

	// Owned by run.
	cur         *Target // the destination being written to
	spare       []byte
	spareSplits []split
	failing     bool
	torn        bool // a failed write stopped inside a line: start the next one with a newline
}

// split is a switch of destination recorded by Retarget: the lines at and
// after offset at in the buffer go to t (until the next split).
type split struct {
	at int
	t  *Target
}

type request struct {
	op    uint8
	reply chan error
}

const (
	opFlush uint8 = iota
	opClose
)

// stdout is the name Destination reports for standard output.
const stdout = "stdout"

// Target is a destination opened for a Writer: a file, or standard output.
// It is used once: given to Retarget, which makes it the Writer's, or
// closed with Close.
type Target struct {
	out  io.Writer
	file *os.File // out, if it is a file OpenTarget opened: the one to close
	path string   // the file's path; "" for a stream
	name string   // what Destination reports
	used atomic.Bool
}

// OpenTarget opens dest as Open does: "-" or "stdout" is standard output;
// anything else a file, created with mode 0640 if needed and appended to.
// It never waits: a named pipe that no process reads is an error (ENXIO)
// rather than an open that blocks until one does.
func OpenTarget(dest string) (*Target, error) {
	if dest == "-" || dest == stdout {
		return &Target{out: os.Stdout, name: stdout}, nil
	}
	// O_NONBLOCK changes nothing for a regular file; a pipe's writes then
	// go through the runtime's poller.
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open access log: %w", err)
	}
	return &Target{out: f, file: f, path: dest, name: dest}, nil
}

// Close closes a Target that was never given to a Writer: its file;
// never standard output. It is for a Target opened ahead of a change that
// did not happen. Closing a Target given to Retarget, or closing one twice,
// returns an error and does nothing: a Writer's destination is closed by
// the Writer.
func (t *Target) Close() error {
	if !t.used.CompareAndSwap(false, true) {
		return errTargetUsed
	}
	if t.file != nil {
		return t.file.Close()
	}
	return nil
}

// Open returns a Writer appending to the file at path (created with mode
// 0640 if needed), or writing to standard output if path is "-" or
// "stdout".
func Open(path string, opts Options) (*Writer, error) {
	t, err := OpenTarget(path)
	if err != nil {
		return nil, err
	}
	t.used.Store(true)
	return start(t, opts), nil
}

// NewWriter returns a Writer writing to out, which it never closes, also
// when Retarget moves it elsewhere. Its Destination is "", and Reopen does
// nothing on it.
func NewWriter(out io.Writer, opts Options) *Writer {
	t := &Target{out: out}
	t.used.Store(true)
	return start(t, opts)
}

// start returns a Writer writing to t, with its goroutine running.
func start(t *Target, opts Options) *Writer {
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
	w := &Writer{
		size:      size,
		threshold: min(size/2, maxFlushChunk),
		log:       log,
		buf:       make([]byte, 0, size),
		kick:      make(chan struct{}, 1),
		reqs:      make(chan request),
		done:      make(chan struct{}),
		cur:       t,
		spare:     make([]byte, 0, size),
		interval:  interval,
	}
	w.latest.Store(t)
	go w.run()
	return w
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

// Retarget makes t the Writer's destination. Every line accepted before
// the call (its Log or WriteLine returned) is written to the destination in
// use until then, every line accepted after it to t, until a later
// Retarget; a line logged during the call goes whole to one of them. Each
// destination gets exactly the lines accepted while it was the latest,
// also when several Retargets come before the goroutine's next write.
// Destination reports t at once.
//
// Retarget never waits for the writer goroutine, even one stuck in a
// write: it records the switch (where in the buffer it falls, and t) under
// the buffer's mutex and wakes the goroutine, which switches as soon as it
// is done with the write in progress. Until then t stays open, unused, as
// do the targets of further Retargets. The Writer owns t from the call on:
// the goroutine closes the file t replaces if the Writer opened it
// (a stream given to NewWriter and standard output are never closed), and
// closes t's file in turn, also a t that never got a line before a later
// Retarget replaced it. Errors writing the old destination's last lines or
// closing its file are not returned: a failed write counts its lines in
// Stats.Lost, and both are logged through Options.Logger, like any failed
// write. Flush returns them too, if it was the one to switch.
//
// A fragment that a failed write left at the end of the old destination
// stays there; t starts clean, unless it is the same file or stream (then
// the next line starts on a line of its own).
//
// On a closed Writer, Retarget closes t and returns ErrClosed. A Target
// already given to a Writer or closed is refused with an error.
func (w *Writer) Retarget(t *Target) error {
	if t == nil || t.out == nil {
		return errors.New("access log target not opened by OpenTarget")
	}
	if !t.used.CompareAndSwap(false, true) {
		return errTargetUsed
	}
	return w.retarget(t, nil)
}

// retarget records the switch to t, which the caller hands over. If was is
// not nil and no longer the latest destination (a concurrent Retarget or
// Reopen came first), t is closed instead and nothing changes.
func (w *Writer) retarget(t, was *Target) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		t.closeFile()
		return ErrClosed
	}
	if was != nil && w.latest.Load() != was {
		w.mu.Unlock()
		t.closeFile()
		return nil
	}
	w.splits = append(w.splits, split{at: len(w.buf), t: t})
	w.latest.Store(t)
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return nil
}

// closeFile closes t's file, if it has one.
func (t *Target) closeFile() error {
	if t.file == nil {
		return nil
	}
	return t.file.Close()
}

// Destination returns the destination of the latest Retarget, or Open, as
// it was given ("stdout" for standard output, also given as "-"), or "" for
// a stream given to NewWriter: where the lines accepted from now on go,
// even while the goroutine is still writing earlier ones elsewhere.
func (w *Writer) Destination() string { return w.latest.Load().name }

// Reopen opens the file at Destination's path anew and makes it the
// destination, as Retarget does: after a log rotator has renamed the file,
// on SIGHUP, the lines accepted before Reopen go to the renamed file, those
// accepted after it to a new file at the path. It never waits for the
// writer goroutine. If the file cannot be opened, nothing changes and
// Reopen returns the error; errors writing out or closing the old file are
// handled as Retarget handles them. On a stream (standard output, or one
// given to NewWriter), Reopen does nothing and returns nil, also after
// Close; on a file after Close it returns ErrClosed. If a Retarget or
// another Reopen records its switch while Reopen opens the file, that one
// stands: Reopen closes the file it opened and changes nothing.
func (w *Writer) Reopen() error {
	was := w.latest.Load()
	if was.path == "" {
		return nil
	}
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	t, err := OpenTarget(was.path)
	if err != nil {
		return err
	}
	t.used.Store(true)
	return w.retarget(t, was)
}

// Flush writes the lines accepted so far, switching destinations as
// Retarget recorded, and returns the errors of doing so: failed writes and
// failures to close a replaced file. It waits for the writer goroutine,
// also while that is stuck in a write.
func (w *Writer) Flush() error { return w.call(request{op: opFlush}) }

// Close writes every line accepted, switching destinations as Retarget
// recorded, closes the last destination's file if the Writer opened it
// (not a stream) and stops the Writer; later lines are dropped. It returns
// the errors of that, as Flush does, and waits for the writer goroutine
// like Flush. Closing twice returns nil.
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

// run is the Writer's goroutine: the only one that writes to a
// destination or closes one the Writer owns.
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
			err := w.flush()
			if r.op == opClose {
				// Closed is set: no switch can be recorded any more.
				if err2 := w.cur.closeFile(); err2 != nil {
					err = errors.Join(err, fmt.Errorf("close access log: %w", err2))
				}
				r.reply <- err
				return
			}
			r.reply <- err
		}
	}
}

// flush writes the buffer out, swapped for the spare so that callers go on,
// switching destinations at the recorded splits.
func (w *Writer) flush() error {
	w.mu.Lock()
	w.buf, w.spare = w.spare[:0], w.buf
	w.splits, w.spareSplits = w.spareSplits[:0], w.splits
	w.mu.Unlock()
	var err error
	from := 0
	for _, s := range w.spareSplits {
		err = errors.Join(err, w.write(w.spare[from:s.at]), w.switchTo(s.t))
		from = s.at
	}
	err = errors.Join(err, w.write(w.spare[from:]))
	clear(w.spareSplits) // the Targets are not needed any more
	return err
}

// write writes p, whole lines, to the current destination.
func (w *Writer) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	var n int
	var err error
	if w.torn { // end the fragment a failed write left, so that it is not glued to the next line
		_, err = w.cur.out.Write([]byte{'\n'})
		w.torn = err != nil
	}
	if err == nil {
		n, err = w.cur.out.Write(p)
	}
	if err == nil {
		if w.failing {
			w.failing = false
			w.log.Info("access log writes recovered", "path", w.cur.path, "lost", w.lost.Load())
		}
		return nil
	}
	n = min(max(n, 0), len(p))
	w.lost.Add(uint64(bytes.Count(p[n:], []byte{'\n'})))
	if n > 0 && p[n-1] != '\n' {
		w.torn = true
	}
	if !w.failing {
		w.failing = true
		w.log.Warn("access log write failed; lines are lost until writes succeed", "path", w.cur.path, "err", err)
	}
	return fmt.Errorf("write access log: %w", err)
}

// switchTo makes t the destination and closes the file it replaces, if the
// Writer opened it.
func (w *Writer) switchTo(t *Target) error {
	old := w.cur
	if w.torn && !sameFile(old.out, t.out) {
		// A fragment a failed write left stays at the end of the old
		// destination; the new one starts clean.
		w.torn = false
	}
	w.cur = t
	if err := old.closeFile(); err != nil {
		w.log.Warn("closing the previous access log failed", "path", old.path, "err", err)
		return fmt.Errorf("close previous access log: %w", err)
	}
	return nil
}

// sameFile reports whether a and b write to the same stream or file: the
// same writer, or *os.File descriptors of one file (the same path opened
// again, not renamed in between). b is a Target's, of a comparable type
// (*os.File), so a == b cannot panic.
func sameFile(a, b io.Writer) bool {
	if a == b {
		return true
	}
	fa, ok1 := a.(*os.File)
	fb, ok2 := b.(*os.File)
	if !ok1 || !ok2 {
		return false
	}
	ia, err1 := fa.Stat()
	ib, err2 := fb.Stat()
	return err1 == nil && err2 == nil && os.SameFile(ia, ib)
}
