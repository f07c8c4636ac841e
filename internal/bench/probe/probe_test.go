package probe

import (
	"context"
	"expvar"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

func TestParseSlabinfo(t *testing.T) {
	before, err := parseSlabinfo([]byte(`slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
TCP                  195    195   2368   13    8 : tunables    0    0    0 : slabdata     15     15      0
sock_inode_cache     323    437    832   19    4 : tunables    0    0    0 : slabdata     23     23      0
filp                1339   1512    192   21    1 : tunables    0    0    0 : slabdata     72     72      0
`))
	if err != nil {
		t.Fatal(err)
	}
	after := Slabs{"TCP": {ActiveObjs: 295, ObjSize: 2368}, "sock_inode_cache": {ActiveObjs: 423, ObjSize: 832},
		"filp": {ActiveObjs: 1439, ObjSize: 192}, "dentry": {ActiveObjs: 100, ObjSize: 192}}
	total, by := Growth(before, after, []string{"TCP", "sock_inode_cache", "filp", "dentry"})
	want := int64(100*2368 + 100*832 + 100*192 + 100*192)
	if total != want || by["TCP"] != 236800 {
		t.Fatalf("growth = %d %v, want %d", total, by, want)
	}
	if _, err := parseSlabinfo([]byte("TCP x y z\n")); err == nil {
		t.Error("a malformed line should be an error")
	}
}

func TestParseVmRSSAndStat(t *testing.T) {
	rss, err := parseVmRSS([]byte("Name:\tx\nVmPeak:\t  100 kB\nVmRSS:\t   2048 kB\n"))
	if err != nil || rss != 2048<<10 {
		t.Fatalf("rss = %d, %v", rss, err)
	}
	if _, err := parseVmRSS([]byte("Name: x\n")); err == nil {
		t.Error("missing VmRSS should be an error")
	}
	if pp, g, ok := statParentGroup([]byte("123 (node (worker) x) S 1 4567 4567 0")); !ok || pp != 1 || g != 4567 {
		t.Fatalf("ppid, pgid = %d, %d, %v", pp, g, ok)
	}
	if rss, err := RSS(os.Getpid()); err != nil || rss == 0 {
		t.Skipf("no /proc here: %v", err)
	}
	if _, err := GroupRSS(os.Getpid() + 1<<30); err == nil {
		t.Error("a group with no process should be an error")
	}
}

func TestReadVars(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/debug/vars", expvar.Handler())
	expvar.Publish("bench", expvar.Func(func() any { return map[string]int64{"connections": 7, "goroutines": 3} }))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	v, err := ReadVars(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if v.Connections != 7 || v.Goroutines != 3 || v.HeapInuse == 0 {
		t.Fatalf("vars = %+v", v)
	}
}
