package accesslog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// quiet keeps the interval flush out of tests that count on the timing of
// writes: only a full chunk, Flush, Reopen and Close write.
var quiet = Options{FlushInterval: time.Hour}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end with a newline: %q", path, b)
	}
	return strings.Split(string(b[:len(b)-1]), "\n")
}

// wantLines checks that the file at path (described as what) holds the
// lines of want, comma-separated.
func wantLines(t *testing.T, path, what, want string) {
	t.Helper()
	if got := readLines(t, path); strings.Join(got, ",") != want {
		t.Errorf("%s holds %q, want %s", what, got, want)
	}
}

func TestWriterReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	w, err := Open(path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteLine([]byte("a"))
	w.WriteLine([]byte("b"))
	// logrotate: rename, then signal. Lines written in between go to the
	// renamed file, still open.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	w.WriteLine([]byte("c"))
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	w.WriteLine([]byte("d"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantLines(t, path+".1", "rotated file", "a,b,c")
	wantLines(t, path, "new file", "d")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm()&^0o640 != 0 {
		t.Errorf("new file: %v, mode %v, want at most 0640", err, fi.Mode())
	}
}

func TestWriterReopenFailureKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	w, err := Open(path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.WriteLine([]byte("a"))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o755); err != nil { // the path cannot be opened as a file
		t.Fatal(err)
	}
	if err := w.Reopen(); err == nil {
		t.Fatal("Reopen onto a directory succeeded")
	}
	w.WriteLine([]byte("b"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	wantLines(t, path+".1", "old file", "a,b")
}

// blockingWriter blocks its first Write until released, so that a test can
// fill the Writer's buffer while the goroutine is stuck writing.
type blockingWriter struct {
	entered, release chan struct{}
	once             sync.Once
	mu               sync.Mutex
	buf              bytes.Buffer
}

func newBlockingWriter() *blockingWriter {
	return &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	b.once.Do(func() {
		close(b.entered)
		<-b.release
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func TestWriterDropsWhenFull(t *testing.T) {
	out := newBlockingWriter()
	w := NewWriter(out, Options{BufferSize: 100, FlushInterval: time.Hour})
	line := func(i int) []byte { return fmt.Appendf(nil, "%010d", i) } // 11 bytes with the newline

	// Five lines pass half the buffer: the writer takes them and blocks.
	for i := range 5 {
		if !w.WriteLine(line(i)) {
			t.Fatalf("line %d refused", i)
		}
	}
	<-out.entered
	// The other buffer takes 9 lines (99 bytes) and refuses the rest.
	for i := 5; i < 14; i++ {
		if !w.WriteLine(line(i)) {
			t.Fatalf("line %d refused", i)
		}
	}
	for i := 14; i < 17; i++ {
		if w.WriteLine(line(i)) {
			t.Fatalf("line %d accepted into a full buffer", i)
		}
	}
	if got := w.Stats(); got != (Stats{Lines: 14, Dropped: 3}) {
		t.Errorf("stats %+v, want 14 lines, 3 dropped", got)
	}
	close(out.release)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range 14 {
		want.Write(line(i))
		want.WriteByte('\n')
	}
	if got := out.buf.String(); got != want.String() {
		t.Errorf("written:\n%s\nwant:\n%s", got, want.String())
	}
	// Closed: everything is refused and counted.
	if w.WriteLine(line(99)) {
		t.Error("a closed writer accepted a line")
	}
	if got := w.Stats().Dropped; got != 4 {
		t.Errorf("dropped %d, want 4", got)
	}
}

func TestWriterDropsLinesLongerThanTheBuffer(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, Options{BufferSize: 16})
	if w.WriteLine(bytes.Repeat([]byte("x"), 16)) { // 17 bytes with the newline
		t.Error("a line longer than the buffer was accepted")
	}
	if !w.WriteLine(bytes.Repeat([]byte("y"), 15)) {
		t.Error("a line filling the buffer exactly was refused")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), strings.Repeat("y", 15)+"\n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
	if got := w.Stats(); got != (Stats{Lines: 1, Dropped: 1}) {
		t.Errorf("stats %+v", got)
	}
}

func TestWriterClose(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, quiet)
	f := MustCompile("$context.requestId $context.status")
	c, _, _ := testRecords()
	w.Log(f, c)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "R1knPH17NjMFftw= 200\n" {
		t.Errorf("Close wrote %q", got)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
	if w.Log(f, c) {
		t.Error("Log after Close accepted the line")
	}
}

func TestWriterCloseClosesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	w, err := Open(path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.file.Close(); err == nil || !errors.Is(err, os.ErrClosed) {
		t.Errorf("file still open after Close: %v", err)
	}
	if err := w.Reopen(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reopen after Close: %v", err)
	}
}

func TestOpenStdout(t *testing.T) {
	for _, dest := range []string{"-", "stdout"} {
		w, err := Open(dest, quiet)
		if err != nil {
			t.Fatal(err)
		}
		if w.out != os.Stdout || w.file != nil {
			t.Errorf("Open(%q) does not write to stdout", dest)
		}
		if err := w.Reopen(); err != nil {
			t.Errorf("Reopen on stdout: %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stdout.Stat(); err != nil {
		t.Errorf("stdout closed: %v", err)
	}
}

// flakyWriter fails its first write, after taking a part of it.
type flakyWriter struct {
	failed bool
	buf    bytes.Buffer
}

func (f *flakyWriter) Write(p []byte) (int, error) {
	if !f.failed {
		f.failed = true
		n := 3
		f.buf.Write(p[:n])
		return n, errors.New("disk full")
	}
	return f.buf.Write(p)
}

func TestWriterCountsLinesLostToWriteErrors(t *testing.T) {
	var logs bytes.Buffer
	out := &flakyWriter{}
	w := NewWriter(out, Options{FlushInterval: time.Hour, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer w.Close()
	for _, l := range []string{"one", "two", "three"} {
		w.WriteLine([]byte(l))
	}
	if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Flush: %v, want the write error", err)
	}
	if got := w.Stats(); got != (Stats{Lines: 3, Lost: 3}) {
		t.Errorf("stats %+v, want 3 lines, 3 lost", got)
	}
	w.WriteLine([]byte("four"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// "one" is the fragment the failed write left; "four" stays a line of its own.
	if got := out.buf.String(); got != "one\nfour\n" {
		t.Errorf("written %q", got)
	}
	if l := logs.String(); !strings.Contains(l, "level=WARN msg=\"access log write failed") ||
		!strings.Contains(l, "disk full") || !strings.Contains(l, "access log writes recovered") || !strings.Contains(l, "lost=3") {
		t.Errorf("logs:\n%s", l)
	}
}

func TestWriterConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	w, err := Open(path, Options{BufferSize: 64 << 10, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f := MustCompile(DefaultFormat)
	const writers, each = 4, 2000
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			c, m, d := testRecords()
			for i := range each {
				rec := []*Record{c, m, d}[(g+i)%3]
				w.Log(f, rec)
			}
		})
	}
	stop := make(chan struct{})
	var side sync.WaitGroup
	side.Go(func() { // rotation and flushes racing the writers
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := w.Reopen(); err != nil {
				t.Error(err)
			}
			if err := w.Flush(); err != nil {
				t.Error(err)
			}
			_ = w.Stats()
		}
	})
	wg.Wait()
	close(stop)
	side.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.Lines == 0 || st.Lines+st.Dropped != writers*each || st.Lost != 0 {
		t.Errorf("stats %+v do not add up to %d lines", st, writers*each)
	}
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	n := 0
	for sc := bufio.NewScanner(file); sc.Scan(); n++ {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("line %d is not JSON (lines interleaved?): %s", n, sc.Bytes())
		}
	}
	if uint64(n) != st.Lines {
		t.Errorf("file holds %d lines, %d accepted", n, st.Lines)
	}
	t.Logf("%d lines, %d dropped", st.Lines, st.Dropped)
}

func TestLogDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers")
	}
	w := NewWriter(discard{}, Options{BufferSize: 64 << 20, FlushInterval: time.Hour})
	defer w.Close()
	f := MustCompile(benchFormat)
	_, m, _ := testRecords()
	w.Log(f, m)
	if allocs := testing.AllocsPerRun(1000, func() { w.Log(f, m) }); allocs != 0 {
		t.Errorf("Log: %v allocations per line, want 0", allocs)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestWriterTornWriteDoesNotCorruptTheNextLine: a write that fails in the
// middle of a line leaves that fragment in the destination; the lines
// written after it must not be glued to it (a JSON line would no longer
// parse).
func TestWriterTornWriteDoesNotCorruptTheNextLine(t *testing.T) {
	out := &flakyWriter{}
	w := NewWriter(out, quiet)
	defer w.Close()
	f := MustCompile(DefaultFormat)
	c, m, _ := testRecords()
	w.Log(f, c)
	if err := w.Flush(); err == nil {
		t.Fatal("the first write did not fail")
	}
	w.Log(f, m)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.buf.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; !json.Valid([]byte(last)) {
		t.Errorf("the line after a torn write is not JSON: %q", last)
	}
	if st := w.Stats(); st != (Stats{Lines: 2, Lost: 1}) {
		t.Errorf("stats %+v, want 2 lines, 1 lost", st)
	}
}

// fileOpen reports whether the process has the file at path open, from
// /proc/self/fd; known is false where that cannot be read (not Linux).
func fileOpen(t *testing.T, path string) (open, known bool) {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return false, false
	}
	want, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && target == want {
			return true, true
		}
	}
	return false, true
}

func TestWriterSetDestination(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	w, err := Open(a, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Destination(); got != a {
		t.Errorf("Destination %q, want %q", got, a)
	}
	w.WriteLine([]byte("1"))
	w.WriteLine([]byte("2"))
	if err := w.SetDestination(b); err != nil {
		t.Fatal(err)
	}
	if got := w.Destination(); got != b {
		t.Errorf("Destination %q, want %q", got, b)
	}
	w.WriteLine([]byte("3"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantLines(t, a, "old file", "1,2")
	wantLines(t, b, "new file", "3")
	if fi, err := os.Stat(b); err != nil || fi.Mode().Perm()&^0o640 != 0 {
		t.Errorf("new file: %v, mode %v, want at most 0640", err, fi.Mode())
	}
}

func TestWriterSetDestinationClosesTheOldFile(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	w, err := Open(a, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	old := w.file
	if open, known := fileOpen(t, a); known && !open {
		t.Fatal("/proc/self/fd does not list the open file")
	}
	if err := w.SetDestination(b); err != nil {
		t.Fatal(err)
	}
	if open, known := fileOpen(t, a); open {
		t.Error("the old file is still open after the switch")
	} else if !known {
		t.Log("no /proc/self/fd: only *os.File.Close checked")
	}
	if open, known := fileOpen(t, b); known && !open {
		t.Error("the new file is not open")
	}
	if err := old.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("closing the old file again: %v, want os.ErrClosed", err)
	}

	// To standard output: the file is closed, standard output is not.
	old = w.file
	for _, dest := range []string{"-", "stdout"} {
		if err := w.SetDestination(dest); err != nil {
			t.Fatal(err)
		}
		if got := w.Destination(); got != "stdout" {
			t.Errorf("SetDestination(%q): Destination %q, want stdout", dest, got)
		}
		if w.out != os.Stdout || w.file != nil {
			t.Errorf("SetDestination(%q) does not write to stdout", dest)
		}
	}
	if open, _ := fileOpen(t, b); open {
		t.Error("the file is still open after switching to stdout")
	}
	if err := old.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("closing the file again: %v, want os.ErrClosed", err)
	}
	if err := w.Reopen(); err != nil { // a stream again: nothing to do
		t.Errorf("Reopen on stdout: %v", err)
	}
	if _, err := os.Stdout.Stat(); err != nil {
		t.Errorf("stdout closed: %v", err)
	}
}

func TestWriterSetDestinationFailureKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	w, err := Open(path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteLine([]byte("a"))
	err = w.SetDestination(filepath.Join(dir, "missing", "access.log"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SetDestination into a missing directory: %v, want a not-exist error", err)
	}
	if got := w.Destination(); got != path {
		t.Errorf("Destination %q after a failed switch, want %q", got, path)
	}
	w.WriteLine([]byte("b"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantLines(t, path, "old file", "a,b")
}

// TestWriterSetDestinationSamePathAfterRename: setting the current path
// again is a reopen, as a log rotator needs.
func TestWriterSetDestinationSamePathAfterRename(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	w, err := Open(path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteLine([]byte("a"))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	w.WriteLine([]byte("b"))
	old := w.file
	if err := w.SetDestination(path); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("the renamed file is still open: %v", err)
	}
	w.WriteLine([]byte("c"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantLines(t, path+".1", "rotated file", "a,b")
	wantLines(t, path, "new file", "c")
}

func TestWriterSetDestinationDoesNotCloseAStream(t *testing.T) {
	dir := t.TempDir()
	stream, err := os.Create(filepath.Join(dir, "stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	path := filepath.Join(dir, "access.log")
	w := NewWriter(stream, quiet)
	if got := w.Destination(); got != "" {
		t.Errorf("Destination of a stream %q, want empty", got)
	}
	w.WriteLine([]byte("a"))
	if err := w.Reopen(); err != nil {
		t.Errorf("Reopen on a stream: %v", err)
	}
	if err := w.SetDestination(path); err != nil {
		t.Fatal(err)
	}
	w.WriteLine([]byte("b"))
	// The file is the Writer's now: Reopen reopens it after a rotation.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	w.WriteLine([]byte("c"))
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	w.WriteLine([]byte("d"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Write([]byte("after\n")); err != nil {
		t.Errorf("the stream was closed: %v", err)
	}
	if got := readLines(t, stream.Name()); strings.Join(got, ",") != "a,after" {
		t.Errorf("stream holds %q, want a, after", got)
	}
	wantLines(t, path+".1", "rotated file", "b,c")
	wantLines(t, path, "new file", "d")
}

func TestWriterSetDestinationAfterClose(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(filepath.Join(dir, "a.log"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(dir, "b.log")
	if err := w.SetDestination(b); !errors.Is(err, ErrClosed) {
		t.Errorf("SetDestination after Close: %v, want ErrClosed", err)
	}
	if _, err := os.Stat(b); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a closed Writer created %s: %v", b, err)
	}
	s := NewWriter(discard{}, quiet)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDestination(b); !errors.Is(err, ErrClosed) {
		t.Errorf("SetDestination after Close on a stream: %v, want ErrClosed", err)
	}
	if err := s.Reopen(); err != nil {
		t.Errorf("Reopen after Close on a stream: %v, want nil", err)
	}
}

// TestWriterSetDestinationAfterATornWrite: the fragment a failed write left
// stays at the end of the old destination; the new one starts clean.
func TestWriterSetDestinationAfterATornWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	out := &flakyWriter{}
	w := NewWriter(out, quiet)
	w.WriteLine([]byte("one"))
	if err := w.Flush(); err == nil {
		t.Fatal("the first write did not fail")
	}
	if err := w.SetDestination(path); err != nil {
		t.Fatal(err)
	}
	w.WriteLine([]byte("two"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.buf.String(); got != "one" {
		t.Errorf("old destination holds %q, want the fragment only", got)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "two\n" {
		t.Errorf("new file holds %q (%v), want \"two\\n\"", b, err)
	}
	if st := w.Stats(); st != (Stats{Lines: 2, Lost: 1}) {
		t.Errorf("stats %+v, want 2 lines, 1 lost", st)
	}
}

// TestWriterSetDestinationConcurrent switches files while goroutines log: a
// line accepted after a switch returned is in its file or a later one; a
// line accepted before a switch began is in an earlier file; every
// goroutine's lines are there, in order.
func TestWriterSetDestinationConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := func(k int) string { return filepath.Join(dir, fmt.Sprintf("access.%d.log", k)) }
	w, err := Open(path(0), Options{BufferSize: 4 << 20, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const loggers, minEach, switches = 4, 1000, 30
	// started is the last switch begun; done the last one returned.
	var started, done atomic.Int32
	var finished atomic.Bool
	type line struct {
		lo, hi   int32 // the files the line may be in
		accepted bool
	}
	lines := make([][]line, loggers)
	var wg sync.WaitGroup
	for g := range loggers {
		wg.Go(func() {
			// Log until every switch is done, so that they all happen while
			// lines are coming in.
			for i := 0; i < minEach || !finished.Load(); i++ {
				lo := done.Load()
				ok := w.WriteLine(fmt.Appendf(nil, "%d %d", g, i))
				lines[g] = append(lines[g], line{lo: lo, hi: started.Load(), accepted: ok})
			}
		})
	}
	wg.Go(func() { // readers racing the switches
		for !finished.Load() {
			if d := w.Destination(); !strings.HasPrefix(d, dir) {
				t.Errorf("Destination %q", d)
			}
			_ = w.Stats()
		}
	})
	for k := 1; k <= switches; k++ {
		started.Store(int32(k))
		if err := w.SetDestination(path(k)); err != nil {
			t.Fatal(err)
		}
		done.Store(int32(k))
		if got := w.Destination(); got != path(k) {
			t.Errorf("Destination %q, want %q", got, path(k))
		}
		if k%5 == 0 { // a rotation: the same file again
			if err := w.Reopen(); err != nil {
				t.Fatal(err)
			}
		}
	}
	finished.Store(true)
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	next := make([]int, loggers) // the index of each goroutine's next line
	skip := func(g int) {        // past the lines that were not accepted
		for next[g] < len(lines[g]) && !lines[g][next[g]].accepted {
			next[g]++
		}
	}
	var accepted, found uint64
	for g := range loggers {
		for _, l := range lines[g] {
			if l.accepted {
				accepted++
			}
		}
		skip(g)
	}
	for k := 0; k <= switches; k++ {
		for _, s := range readLines(t, path(k)) {
			gs, is, _ := strings.Cut(s, " ")
			g, err1 := strconv.Atoi(gs)
			i, err2 := strconv.Atoi(is)
			if err1 != nil || err2 != nil || g < 0 || g >= loggers {
				t.Fatalf("file %d: bad line %q", k, s)
			}
			if i != next[g] {
				t.Fatalf("file %d: line %q, want %d %d (lost or out of order)", k, s, g, next[g])
			}
			if l := lines[g][i]; int32(k) < l.lo || int32(k) > l.hi {
				t.Errorf("line %q in file %d, want it in files %d to %d", s, k, l.lo, l.hi)
			}
			next[g]++
			skip(g)
			found++
		}
	}
	for g := range loggers {
		if next[g] != len(lines[g]) {
			t.Errorf("goroutine %d: %d lines logged, line %d is missing", g, len(lines[g]), next[g])
		}
	}
	st := w.Stats()
	if st.Lines != accepted || found != accepted || st.Lost != 0 {
		t.Errorf("stats %+v, %d lines accepted, %d found", st, accepted, found)
	}
	t.Logf("%d lines in %d files, %d dropped", found, switches+1, st.Dropped)
}
