package config

import (
	"reflect"
	"strings"
)

// reloadableLimits are the stage.limits a reload changes. The others bound
// connections and handshakes in ways fixed when the server starts (the
// session's buffers and timers, net/http's header limits, the per-IP
// table) and need a restart.
var reloadableLimits = map[string]bool{
	"maxConnections":    true,
	"maxUrlLength":      true,
	"messageRateLimit":  true,
	"messageBurstLimit": true,
}

// KeepRestartOnly prepares c, a configuration read for a reload, to
// replace running (c is written to, running is not): the settings that only take effect when the server
// starts are set back to running's values, and the paths of those that
// differed are returned, for the operator to hear that they need a
// restart. Everything else in c is what the reload applies. Both
// configurations must be valid (defaults applied).
//
// The restart-only settings are listen, reader, api.id and api.name,
// stage.name, the stage.limits other than maxConnections, maxUrlLength,
// messageRateLimit and messageBurstLimit, whether tls is on and its
// minVersion (the certificate and key files are read again), metrics
// (on or off, and its listener) and disconnectRetry.
func (c *Config) KeepRestartOnly(running *Config) []string {
	var changed []string
	keep := func(path string, dst, src any) {
		d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
		if !reflect.DeepEqual(d.Interface(), s.Interface()) {
			changed = append(changed, path)
			d.Set(s)
		}
	}
	keep("listen", &c.Listen, &running.Listen)
	keep("reader", &c.Reader, &running.Reader)
	keep("api.id", &c.API.ID, &running.API.ID)
	keep("api.name", &c.API.Name, &running.API.Name)
	keep("stage.name", &c.Stage.Name, &running.Stage.Name)

	limits := reflect.ValueOf(&c.Stage.Limits).Elem()
	old := reflect.ValueOf(&running.Stage.Limits).Elem()
	for i := range limits.NumField() {
		name, _, _ := strings.Cut(limits.Type().Field(i).Tag.Get("yaml"), ",")
		if !reloadableLimits[name] {
			keep("stage.limits."+name, limits.Field(i).Addr().Interface(), old.Field(i).Addr().Interface())
		}
	}

	switch {
	case (c.TLS == nil) != (running.TLS == nil):
		changed = append(changed, "tls")
		c.TLS = running.TLS
	case c.TLS != nil:
		t := *c.TLS // c may share it with another configuration
		c.TLS = &t
		keep("tls.minVersion", &c.TLS.MinVersion, &running.TLS.MinVersion)
	}
	keep("metrics", &c.Metrics, &running.Metrics)
	keep("disconnectRetry", &c.DisconnectRetry, &running.DisconnectRetry)
	return changed
}
