// Command switchboard runs a WebSocket API the way AWS API Gateway does:
// `switchboard serve [--config FILE]`, `switchboard validate --config FILE`,
// `switchboard version`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/switchboardgw/switchboard/internal/config"
	"github.com/switchboardgw/switchboard/internal/server"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage:
  switchboard serve [--config FILE [--watch]] [--log-format text|json] [--log-level debug|info|warn|error] [--debug-listen ADDR]
      Serve the API in FILE; without --config, the built-in demo API on 127.0.0.1:8080.
      SIGHUP reloads FILE (and the files it names) without closing connections; --watch also
      reloads it whenever its content changes.
      --debug-listen serves /debug/pprof/ and /debug/vars (memory, goroutines, connections) on ADDR.
  switchboard validate --config FILE
      Check FILE and list every problem; exit 1 if there are any.
  switchboard version
      Print the version.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "validate":
		return validate(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "switchboard", versionString())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "switchboard: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (default: the built-in demo API)")
	format := fs.String("log-format", "text", "log format: text or json")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	debugAddr := fs.String("debug-listen", "", "address for /debug/pprof/ and /debug/vars (off when empty; never expose it publicly)")
	watch := fs.Bool("watch", false, "reload the configuration file when its content changes (checked every second), as on SIGHUP")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := newLogger(stderr, *format, *level)
	if err != nil {
		fmt.Fprintln(stderr, "switchboard:", err)
		return 2
	}

	var cfg *config.Config
	var file *configFile // nil: the built-in demo API
	if *path == "" {
		cfg = config.Demo()
	} else {
		file = &configFile{path: *path}
		if cfg, err = file.load(); err != nil {
			fmt.Fprintf(stderr, "switchboard: %s:\n%v\n", *path, err)
			return 1
		}
	}
	if *watch && file == nil {
		fmt.Fprintln(stderr, "switchboard: --watch needs --config")
		return 2
	}
	srv, err := server.New(cfg, log)
	if err != nil {
		log.Error("cannot build the gateway", slog.String("error", err.Error()))
		return 1
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Error("cannot listen", slog.String("listen", cfg.Listen), slog.String("error", err.Error()))
		return 1
	}
	if *debugAddr != "" {
		dln, err := serveDebug(*debugAddr, srv)
		if err != nil {
			log.Error("cannot listen for debug", slog.String("listen", *debugAddr), slog.String("error", err.Error()))
			return 1
		}
		defer dln.Close()
		log.Info("debug endpoints", slog.String("pprof", "http://"+dln.Addr().String()+"/debug/pprof/"),
			slog.String("vars", "http://"+dln.Addr().String()+"/debug/vars"))
	}
	if h := srv.MetricsHandler(); h != nil {
		mln, err := net.Listen("tcp", cfg.Metrics.Listen)
		if err != nil {
			log.Error("cannot listen for metrics", slog.String("listen", cfg.Metrics.Listen), slog.String("error", err.Error()))
			return 1
		}
		defer mln.Close()
		msrv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go msrv.Serve(mln)
		log.Info("metrics endpoints", slog.String("metrics", "http://"+mln.Addr().String()+"/metrics"),
			slog.String("readyz", "http://"+mln.Addr().String()+"/readyz"))
	}
	ws, web := "ws", "http"
	if cfg.TLS != nil {
		ws, web = "wss", "https"
	}
	log.Info("serving",
		slog.String("version", versionString()),
		slog.String("websocket", fmt.Sprintf("%s://%s/%s", ws, ln.Addr(), cfg.Stage.Name)),
		slog.String("connections", fmt.Sprintf("%s://%s/%s/@connections/{connectionId}", web, ln.Addr(), cfg.Stage.Name)))
	if *path == "" {
		printDemoHelp(stdout, ln.Addr().String(), cfg)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	if *watch {
		t := time.NewTicker(watchInterval)
		defer t.Stop()
		tick = t.C
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
wait:
	for {
		select {
		case <-tick:
			if file.changed() {
				reload(srv, file, log, "watch")
			}
		case err := <-errc:
			if err != nil {
				log.Error("serve failed", slog.String("error", err.Error()))
				return 1
			}
			return 0
		case <-hup:
			reload(srv, file, log, "SIGHUP")
		case <-ctx.Done():
			break wait
		}
	}
	stop()
	timeout := srv.Config().ShutdownTimeout.D() // a reload may have changed it
	log.Info("shutting down: closing connections with 1001", slog.Int("connections", srv.Connections()),
		slog.Duration("timeout", timeout))
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown incomplete", slog.String("error", err.Error()))
		return 1
	}
	return 0
}

func printDemoHelp(w io.Writer, addr string, cfg *config.Config) {
	cred := cfg.Management.Credentials[0]
	fmt.Fprintf(w, `
Switchboard is serving its built-in demo API at ws://%[1]s/%[2]s

Try it with wscat (npm i -g wscat, or npx wscat):
  wscat -c ws://%[1]s/%[2]s
  > hello                  echoed back by the $default route (a MOCK integration)
  > {"action":"whoami"}    your connection id, source IP, stage and request id

Then push to your connection through the @connections API, as a backend would:
  AWS_ACCESS_KEY_ID=%[3]s AWS_SECRET_ACCESS_KEY=%[4]s \
  aws apigatewaymanagementapi post-to-connection --region us-east-1 \
    --endpoint-url http://%[1]s/%[2]s --connection-id CONNECTION_ID --data 'hello from the backend'

Stop with Ctrl-C. Serve your own API with: switchboard serve --config FILE

`, addr, cfg.Stage.Name, cred.AccessKeyID, cred.SecretAccessKey)
}

func validate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(stderr, "switchboard validate: --config FILE is required")
		return 2
	}
	if _, err := config.Load(*path); err != nil {
		var problems config.Problems
		if errors.As(err, &problems) {
			for _, p := range problems {
				fmt.Fprintln(stdout, p)
			}
			fmt.Fprintf(stderr, "%s: %d problem(s)\n", *path, len(problems))
		} else {
			fmt.Fprintln(stderr, "switchboard:", err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: valid\n", *path)
	return 0
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
