package probe

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// KernelSlabs are the slab caches whose growth is counted as the kernel's
// share of a connection: the TCP socket, its inode, its struct file, its
// dentry and the epoll registration. (kmalloc-* caches also grow, with
// socket buffers, but other activity moves them too much to attribute.)
var KernelSlabs = []string{"TCP", "sock_inode_cache", "filp", "dentry", "eventpoll_epi"}

// Slab is one cache's line of /proc/slabinfo.
type Slab struct {
	ActiveObjs int64
	ObjSize    int64
}

// Slabs is a snapshot of /proc/slabinfo by cache name.
type Slabs map[string]Slab

// ReadSlabs reads /proc/slabinfo (root only on most systems).
func ReadSlabs() (Slabs, error) {
	data, err := os.ReadFile("/proc/slabinfo")
	if err != nil {
		return nil, err
	}
	return parseSlabinfo(data)
}

func parseSlabinfo(data []byte) (Slabs, error) {
	s := Slabs{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "slabinfo") || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		active, err1 := strconv.ParseInt(f[1], 10, 64)
		size, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("slabinfo line %q: want <name> <active_objs> <num_objs> <objsize> and more", line)
		}
		s[f[0]] = Slab{ActiveObjs: active, ObjSize: size}
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("slabinfo: no caches")
	}
	return s, nil
}

// Growth returns, for each named cache, the growth in active objects from
// before to after times the object size, and their total, in bytes.
func Growth(before, after Slabs, names []string) (total int64, byCache map[string]int64) {
	byCache = make(map[string]int64, len(names))
	for _, n := range names {
		a, b := after[n], before[n]
		size := a.ObjSize
		if size == 0 {
			size = b.ObjSize
		}
		d := (a.ActiveObjs - b.ActiveObjs) * size
		byCache[n] = d
		total += d
	}
	return total, byCache
}
