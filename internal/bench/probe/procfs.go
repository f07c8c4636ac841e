package probe

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// RSS returns a process's resident set size in bytes (VmRSS).
func RSS(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(data)
}

func parseVmRSS(status []byte) (uint64, error) {
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(rest))
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmRSS %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS line")
}

// GroupRSS sums the resident memory of every process in process group
// pgid (a node server and whatever it spawned).
func GroupRSS(pgid int) (uint64, error) {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	var total uint64
	found := false
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if _, g, ok := statParentGroup(data); ok && g == pgid {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			if rss, err := RSS(pid); err == nil {
				total += rss
				found = true
			}
		}
	}
	if !found {
		return 0, fmt.Errorf("no process in group %d", pgid)
	}
	return total, nil
}

// ChildGroups returns the process groups of pid's direct children that
// are not pid's own group (a child that made itself a group leader, as
// serverless-offline's start script does).
func ChildGroups(pid int) []int {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	var groups []int
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		ppid, pgid, ok := statParentGroup(data)
		if ok && ppid == pid && pgid != pid && !slices.Contains(groups, pgid) {
			groups = append(groups, pgid)
		}
	}
	return groups
}

// statParentGroup reads the parent (4th field) and process group (5th)
// from /proc/PID/stat.
func statParentGroup(stat []byte) (ppid, pgid int, ok bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(stat[i+1:])) // state ppid pgrp ...
	if len(f) < 3 {
		return 0, 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgid, err2 := strconv.Atoi(f[2])
	return ppid, pgid, err1 == nil && err2 == nil
}
