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
	"strings"
	"sync"
	"testing"
	"time"
)

// quiet keeps the interval flush out of tests that count on the timing of
// writes: only a full chunk, Retarget and Reopen (which wake the writer
// goroutine), Flush and Close write.
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
	if got := w.Destination(); got != path {
		t.Errorf("Destination %q after a failed Reopen, want %q", got, path)
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
	if err := w.cur.file.Close(); err == nil || !errors.Is(err, os.ErrClosed) {
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
		if w.cur.out != os.Stdout || w.cur.file != nil {
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
