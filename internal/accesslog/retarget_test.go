package accesslog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// promptly runs f and returns its error, failing the test if f has not
// returned within a few seconds: f must not wait for the writer goroutine.
func promptly(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		t.Fatalf("%s did not return while the writer goroutine was stuck in a write", what)
		return nil
	}
}

// retarget opens dest and makes it w's destination, promptly.
func retarget(t *testing.T, w *Writer, dest string) *Target {
	t.Helper()
	tg, err := OpenTarget(dest)
	if err != nil {
		t.Fatal(err)
	}
	if err := promptly(t, "Retarget", func() error { return w.Retarget(tg) }); err != nil {
		t.Fatal(err)
	}
	return tg
}

// wantClosed checks that the file of tg was closed; and, with
// /proc/self/fd, that no file at its path is open, unless reused (a later
// target opened the path again).
func wantClosed(t *testing.T, tg *Target, what string, reused ...*Target) {
	t.Helper()
	if open, _ := fileOpen(t, tg.path); open && !slices.ContainsFunc(reused, func(r *Target) bool { return r.path == tg.path }) {
		t.Errorf("%s (%s) is still open", what, tg.path)
	}
	if err := tg.file.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("closing %s again: %v, want os.ErrClosed", what, err)
	}
}

// stuck returns a Writer on a stream whose goroutine is inside a write that
// does not return until release is called (the test calls it at its end
// too). The write holds filler lines; the stream gets them first.
func stuck(t *testing.T) (w *Writer, out *blockingWriter, release func()) {
	t.Helper()
	out = newBlockingWriter()
	var once sync.Once
	release = func() { once.Do(func() { close(out.release) }) }
	w = NewWriter(out, Options{BufferSize: 64, FlushInterval: time.Hour})
	t.Cleanup(func() { w.Close() })
	t.Cleanup(release) // first: Close waits for the write
	for i := range 3 { // 33 bytes: past half the buffer, which wakes the goroutine
		if !w.WriteLine(fmt.Appendf(nil, "filler%04d", i)) {
			t.Fatalf("filler line %d refused", i)
		}
	}
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	select {
	case <-out.entered:
	case <-timer.C:
		t.Fatal("the writer goroutine did not start writing")
	}
	return w, out, release
}

const fillers = "filler0000\nfiller0001\nfiller0002\n"

func TestWriterRetarget(t *testing.T) {
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
	retarget(t, w, b)
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

func TestWriterRetargetClosesTheOldFile(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	w, err := Open(a, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	old := w.cur
	if open, known := fileOpen(t, a); known && !open {
		t.Fatal("/proc/self/fd does not list the open file")
	} else if !known {
		t.Log("no /proc/self/fd: only *os.File.Close checked")
	}
	tb := retarget(t, w, b)
	if err := w.Flush(); err != nil { // the switch has happened
		t.Fatal(err)
	}
	wantClosed(t, old, "the old file")
	if open, known := fileOpen(t, b); known && !open {
		t.Error("the new file is not open")
	}

	// To standard output: the file is closed, standard output is not.
	for _, dest := range []string{"-", "stdout"} {
		retarget(t, w, dest)
		if got := w.Destination(); got != "stdout" {
			t.Errorf("Retarget(%q): Destination %q, want stdout", dest, got)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if w.cur.out != os.Stdout || w.cur.file != nil {
			t.Errorf("Retarget(%q) does not write to stdout", dest)
		}
	}
	wantClosed(t, tb, "the file replaced by stdout")
	if err := w.Reopen(); err != nil { // a stream again: nothing to do
		t.Errorf("Reopen on stdout: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stdout.Stat(); err != nil {
		t.Errorf("stdout closed: %v", err)
	}
}

// TestOpenTargetFailureChangesNothing: a destination that cannot be opened
// fails before the Writer is involved.
func TestOpenTargetFailureChangesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	w, err := Open(path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteLine([]byte("a"))
	tg, err := OpenTarget(filepath.Join(dir, "missing", "access.log"))
	if !errors.Is(err, os.ErrNotExist) || tg != nil {
		t.Errorf("OpenTarget into a missing directory: %v, %v, want a not-exist error", tg, err)
	}
	if got := w.Destination(); got != path {
		t.Errorf("Destination %q after a failed open, want %q", got, path)
	}
	w.WriteLine([]byte("b"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantLines(t, path, "old file", "a,b")
}

func TestTargetClose(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	tg, err := OpenTarget(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tg.Close(); err == nil {
		t.Error("a second Close succeeded")
	}
	wantClosed(t, tg, "a closed target")
	w := NewWriter(discard{}, quiet)
	defer w.Close()
	if err := w.Retarget(tg); err == nil {
		t.Error("Retarget to a closed target succeeded")
	}
	if got := w.Destination(); got != "" {
		t.Errorf("Destination %q after a refused Retarget", got)
	}

	so, err := OpenTarget("-")
	if err != nil {
		t.Fatal(err)
	}
	if err := so.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stdout.Stat(); err != nil {
		t.Errorf("stdout closed: %v", err)
	}

	// Given to a Writer, a target is the Writer's: Close does nothing.
	tg = retarget(t, w, path)
	if err := tg.Close(); err == nil {
		t.Error("Close of a Writer's target succeeded")
	}
	w.WriteLine([]byte("a"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	wantLines(t, path, "target", "a")
	if err := w.Retarget(tg); err == nil {
		t.Error("a second Retarget to the same target succeeded")
	}
	w2 := NewWriter(discard{}, quiet)
	defer w2.Close()
	if err := w2.Retarget(tg); err == nil {
		t.Error("Retarget of another Writer's target succeeded")
	}
	if err := w.Retarget(&Target{}); err == nil {
		t.Error("Retarget to a zero Target succeeded")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantClosed(t, tg, "the last target after Close")
}

// TestWriterRetargetSamePathAfterRename: a Retarget to the current path is a
// reopen, as a log rotator needs.
func TestWriterRetargetSamePathAfterRename(t *testing.T) {
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
	old := w.cur
	retarget(t, w, path)
	w.WriteLine([]byte("c"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	wantClosed(t, old, "the renamed file", w.cur)
	if open, _ := fileOpen(t, path+".1"); open {
		t.Error("the renamed file is still open")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantLines(t, path+".1", "rotated file", "a,b")
	wantLines(t, path, "new file", "c")
}

func TestWriterRetargetDoesNotCloseAStream(t *testing.T) {
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
	retarget(t, w, path)
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

func TestWriterRetargetAfterClose(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	w, err := Open(a, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tb, err := OpenTarget(filepath.Join(dir, "b.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Retarget(tb); !errors.Is(err, ErrClosed) {
		t.Errorf("Retarget after Close: %v, want ErrClosed", err)
	}
	wantClosed(t, tb, "the target refused by a closed Writer")
	if got := w.Destination(); got != a {
		t.Errorf("Destination %q after Close, want %q", got, a)
	}
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reopen after Close: %v, want ErrClosed", err)
	}
	if _, err := os.Stat(a); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Reopen on a closed Writer created %s: %v", a, err)
	}

	s := NewWriter(discard{}, quiet)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	so, err := OpenTarget("stdout")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Retarget(so); !errors.Is(err, ErrClosed) {
		t.Errorf("Retarget after Close on a stream: %v, want ErrClosed", err)
	}
	if err := s.Reopen(); err != nil {
		t.Errorf("Reopen after Close on a stream: %v, want nil", err)
	}
	if _, err := os.Stdout.Stat(); err != nil {
		t.Errorf("stdout closed: %v", err)
	}
}

// TestWriterRetargetAfterATornWrite: the fragment a failed write left stays
// at the end of the old destination; the new one starts clean. Retarget
// does not report the failure; Flush, which wrote, does.
func TestWriterRetargetAfterATornWrite(t *testing.T) {
	for _, pending := range []bool{false, true} {
		t.Run(fmt.Sprintf("pending=%v", pending), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "access.log")
			out := &flakyWriter{}
			w := NewWriter(out, quiet)
			w.WriteLine([]byte("one"))
			if !pending { // the failed write happens before the switch is recorded
				if err := w.Flush(); err == nil {
					t.Fatal("the first write did not fail")
				}
			}
			retarget(t, w, path)
			w.WriteLine([]byte("two"))
			err := w.Flush()
			if pending && (err == nil || !strings.Contains(err.Error(), "disk full")) {
				// The goroutine may have written and switched on its own,
				// woken by Retarget: then Flush has nothing to report.
				if st := w.Stats(); st.Lost != 1 {
					t.Errorf("Flush: %v, stats %+v, want the write error or the line lost", err, st)
				}
			} else if !pending && err != nil {
				t.Errorf("Flush: %v", err)
			}
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
		})
	}
}

// TestWriterRetargetToTheSameStreamAfterATornWrite: going on with the same
// stream or file after a torn write, the next line still starts on a line
// of its own.
func TestWriterRetargetToTheSameStreamAfterATornWrite(t *testing.T) {
	out := &flakyWriter{}
	w := NewWriter(out, quiet)
	defer w.Close()
	w.WriteLine([]byte("one"))
	if err := w.Flush(); err == nil {
		t.Fatal("the first write did not fail")
	}
	if err := w.Retarget(&Target{out: out}); err != nil { // as OpenTarget of the same path
		t.Fatal(err)
	}
	w.WriteLine([]byte("two"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := out.buf.String(); got != "one\ntwo\n" {
		t.Errorf("written %q, want \"one\\ntwo\\n\"", got)
	}
}

func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	f1, f2 := open(), open()
	if !sameFile(f1, f2) {
		t.Error("the same path opened twice: not the same file")
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if f3 := open(); sameFile(f1, f3) {
		t.Error("a renamed file and a new one at its path: the same file")
	}
	if !sameFile(os.Stdout, os.Stdout) {
		t.Error("stdout and stdout: not the same")
	}
	if sameFile(discard{}, f1) {
		t.Error("a stream and a file: the same")
	}
}

// TestWriterRetargetDoesNotWaitForAStuckWrite: Retarget, Reopen,
// Destination and logging return while the writer goroutine is stuck in a
// write that does not return, and the lines go where they belong once it
// returns.
func TestWriterRetargetDoesNotWaitForAStuckWrite(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	w, out, release := stuck(t)
	w.WriteLine([]byte("s"))
	ta, err := OpenTarget(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := promptly(t, "Retarget", func() error { return w.Retarget(ta) }); err != nil {
		t.Fatal(err)
	}
	if got := w.Destination(); got != a {
		t.Errorf("Destination %q, want %q", got, a)
	}
	w.WriteLine([]byte("a1"))
	if err := os.Rename(a, a+".1"); err != nil {
		t.Fatal(err)
	}
	w.WriteLine([]byte("a2"))
	if err := promptly(t, "Reopen", w.Reopen); err != nil {
		t.Fatal(err)
	}
	w.WriteLine([]byte("r1"))
	tb, err := OpenTarget(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := promptly(t, "Retarget", func() error { return w.Retarget(tb) }); err != nil {
		t.Fatal(err)
	}
	w.WriteLine([]byte("b1"))
	// Nothing has been written yet: the goroutine is still stuck.
	wantLines(t, a+".1", "renamed file", "")
	wantLines(t, a, "reopened file", "")
	wantLines(t, b, "last file", "")

	release()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.buf.String(); got != fillers+"s\n" {
		t.Errorf("stream holds %q, want the fillers and s", got)
	}
	wantLines(t, a+".1", "renamed file", "a1,a2")
	wantLines(t, a, "reopened file", "r1")
	wantLines(t, b, "last file", "b1")
	wantClosed(t, ta, "the renamed file")
	wantClosed(t, tb, "the last file")
	if st := w.Stats(); st != (Stats{Lines: 8}) {
		t.Errorf("stats %+v, want 8 lines", st)
	}
}

// TestWriterSeveralRetargetsBeforeAWrite: when several Retargets come
// before the goroutine writes, each file gets exactly the lines accepted
// while it was the latest destination, and a file replaced before it got
// any is closed all the same.
func TestWriterSeveralRetargetsBeforeAWrite(t *testing.T) {
	cases := []struct {
		name  string
		steps string // a line, or >file: Retarget to the file
		want  map[string]string
		// fileOnly: the steps come back to the first destination, a file
		// only when the Writer starts on one.
		fileOnly bool
	}{
		{"two", "1 >b 2 >c 3", map[string]string{"a": "1", "b": "2", "c": "3"}, false},
		{"two in a row", "1 >b >c 2", map[string]string{"a": "1", "b": "", "c": "2"}, false},
		{"three", "1 >b 2 3 >c >d 4", map[string]string{"a": "1", "b": "2,3", "c": "", "d": "4"}, false},
		{"three first", ">b >c >d 1", map[string]string{"a": "", "b": "", "c": "", "d": "1"}, false},
		{"three last", "1 2 >b >c >d", map[string]string{"a": "1,2", "b": "", "c": "", "d": ""}, false},
		{"back to the first", "1 >b 2 >a 3 >b 4", map[string]string{"a": "1,3", "b": "2,4"}, true},
	}
	for _, c := range cases {
		for _, onStuck := range []bool{false, true} {
			if onStuck && c.fileOnly {
				continue
			}
			t.Run(fmt.Sprintf("%s/stuck=%v", c.name, onStuck), func(t *testing.T) {
				dir := t.TempDir()
				path := func(name string) string { return filepath.Join(dir, name+".log") }
				var w *Writer
				var out *blockingWriter
				release := func() {}
				if onStuck { // every Retarget is pending until release
					w, out, release = stuck(t)
				} else { // nothing wakes the goroutine but the Retargets
					var err error
					if w, err = Open(path("a"), quiet); err != nil {
						t.Fatal(err)
					}
					defer w.Close()
				}
				var targets []*Target
				for s := range strings.FieldsSeq(c.steps) {
					if name, ok := strings.CutPrefix(s, ">"); ok {
						targets = append(targets, retarget(t, w, path(name)))
					} else if !w.WriteLine([]byte(s)) {
						t.Fatalf("line %s refused", s)
					}
				}
				if onStuck {
					for _, tg := range targets { // all still open, unused
						if open, known := fileOpen(t, tg.path); known && !open {
							t.Errorf("%s is not open", tg.path)
						}
					}
				}
				release()
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				for name, want := range c.want {
					if name == "a" && onStuck {
						got := strings.TrimPrefix(out.buf.String(), fillers)
						if want != "" {
							want = strings.ReplaceAll(want, ",", "\n") + "\n"
						}
						if got != want {
							t.Errorf("stream holds %q after the fillers, want %q", got, want)
						}
						continue
					}
					wantLines(t, path(name), name, want)
				}
				last := targets[len(targets)-1]
				for _, tg := range targets[:len(targets)-1] {
					wantClosed(t, tg, "replaced target "+tg.path, last)
				}
				if open, known := fileOpen(t, last.path); known && !open {
					t.Errorf("the last target %s is not open", last.path)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				wantClosed(t, last, "the last target after Close")
			})
		}
	}
}

// TestWriterCloseSwitchesFirst: Close writes the lines after a pending
// switch to its target, then closes it.
func TestWriterCloseSwitchesFirst(t *testing.T) {
	dir := t.TempDir()
	b := filepath.Join(dir, "b.log")
	w, out, release := stuck(t)
	w.WriteLine([]byte("s"))
	tb := retarget(t, w, b)
	w.WriteLine([]byte("b1"))
	release()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.WriteLine([]byte("late")) {
		t.Error("a closed Writer accepted a line")
	}
	if got := out.buf.String(); got != fillers+"s\n" {
		t.Errorf("stream holds %q", got)
	}
	wantLines(t, b, "target", "b1")
	wantClosed(t, tb, "the target after Close")
}

// TestWriterRetargetConcurrent switches files while goroutines log and
// another reopens: a line accepted after a Retarget returned is in its file
// or a later one; a line accepted before a Retarget began is in an earlier
// file; every goroutine's lines are there, in order.
func TestWriterRetargetConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := func(k int) string { return filepath.Join(dir, fmt.Sprintf("access.%d.log", k)) }
	w, err := Open(path(0), Options{BufferSize: 4 << 20, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const loggers, minEach, switches, maxReopens = 4, 1000, 100, 300
	// started is the last Retarget begun; done the last one returned.
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
	wg.Go(func() { // rotations racing the switches: never back to an earlier file
		for n := 0; n < maxReopens && !finished.Load(); n++ {
			if err := w.Reopen(); err != nil {
				t.Error(err)
			}
		}
	})
	for k := 1; k <= switches; k++ {
		started.Store(int32(k))
		tg, err := OpenTarget(path(k))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Retarget(tg); err != nil {
			t.Fatal(err)
		}
		done.Store(int32(k))
		if got := w.Destination(); got != path(k) {
			t.Errorf("Destination %q, want %q", got, path(k))
		}
		if k%10 == 0 {
			if err := w.Flush(); err != nil {
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

// A named pipe with no reader is an error at once, not an open that waits
// for one (which would hold a reload, or the signal loop, indefinitely).
func TestOpenTargetPipeWithoutReader(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		tg, err := OpenTarget(fifo)
		if err == nil {
			tg.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("OpenTarget of a pipe nobody reads succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OpenTarget of a pipe nobody reads is still waiting")
	}
}
