package main

import (
	"bytes"
	"crypto/sha256"
	"log/slog"
	"os"
	"time"

	"github.com/switchboardgw/switchboard/internal/config"
	"github.com/switchboardgw/switchboard/internal/server"
)

// watchInterval is how often --watch looks at the configuration file.
const watchInterval = time.Second

// configFile is the configuration file serve runs, and what it last read
// there: a reload is tried when the file's content differs.
type configFile struct {
	path string
	sum  [sha256.Size]byte // of the content last read, valid or not
	// size and mod are the file's when last read, at read: a file whose
	// stat has not changed is not read again, unless it was modified
	// within recentWrite of that read (a same-size rewrite may then share
	// its modification time).
	size int64
	mod  time.Time
	read time.Time
}

// recentWrite covers the coarsest modification times of common file
// systems.
const recentWrite = 2 * time.Second

// load reads and parses the file, and remembers its content.
func (f *configFile) load() (*config.Config, error) {
	st, err := os.Stat(f.path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return nil, err
	}
	f.sum, f.size, f.mod, f.read = sha256.Sum256(data), st.Size(), st.ModTime(), time.Now()
	return config.Parse(data, os.LookupEnv)
}

// changed reports whether the file's content differs from what load last
// read. It stats the file and reads it only if the stat has changed (or
// the last read came right after a write), so that watching costs one
// stat a second; an editor that rewrites the same content (or a touch)
// changes nothing. A file that cannot be read counts as unchanged: the
// watch waits for it to come back.
func (f *configFile) changed() bool {
	st, err := os.Stat(f.path)
	if err != nil {
		return false
	}
	if st.Size() == f.size && st.ModTime().Equal(f.mod) && f.read.Sub(f.mod) > recentWrite {
		return false
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return false
	}
	sum := sha256.Sum256(data)
	if bytes.Equal(sum[:], f.sum[:]) {
		f.size, f.mod, f.read = st.Size(), st.ModTime(), time.Now()
		return false
	}
	return true
}

// reload reads the configuration file again and applies it. An invalid
// file, or one that cannot be built, is rejected with every problem in the
// log, and the configuration in use goes on serving; on SIGHUP the access
// log file is reopened all the same, so that log rotation never depends
// on the file being valid. Settings that need a restart are named in a
// warning. Without a file (the built-in demo API) it only re-reads what
// the configuration in use names.
func reload(srv *server.Server, f *configFile, log *slog.Logger, trigger string) {
	trig := slog.String("trigger", trigger)
	if f == nil {
		if err := srv.Reload(); err != nil {
			reopenAccessLog(srv, log, trigger)
			log.Error("reload failed; still serving with what was loaded before", trig, slog.String("error", err.Error()))
			return
		}
		log.Info("reloaded", trig)
		return
	}
	next, err := f.load()
	if err != nil {
		reopenAccessLog(srv, log, trigger)
		log.Error("reload rejected: the configuration file is invalid; still serving the configuration in use",
			trig, slog.String("config", f.path), slog.String("error", err.Error()))
		return
	}
	restartOnly, err := srv.Apply(next)
	if err != nil {
		reopenAccessLog(srv, log, trigger)
		log.Error("reload failed; still serving the configuration in use",
			trig, slog.String("config", f.path), slog.String("error", err.Error()))
		return
	}
	log.Info("reloaded", trig, slog.String("config", f.path))
	if len(restartOnly) > 0 {
		log.Warn("settings changed that take effect only on a restart; their running values stay in use",
			slog.Any("settings", restartOnly))
	}
}

// reopenAccessLog reopens the access log file after a SIGHUP whose reload
// did not happen (before saying so: by then the reopen has happened): log
// rotation must not depend on the configuration.
func reopenAccessLog(srv *server.Server, log *slog.Logger, trigger string) {
	if trigger != "SIGHUP" {
		return
	}
	if err := srv.ReopenAccessLog(); err != nil {
		log.Error("cannot reopen the access log", slog.String("error", err.Error()))
	}
}
