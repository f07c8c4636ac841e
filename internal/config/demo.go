package config

import (
	_ "embed"
)

//go:embed demo.yaml
var demoYAML []byte

// DemoYAML is the built-in demo API's configuration file.
func DemoYAML() []byte { return demoYAML }

// Demo returns the built-in demo API: an echo route ($default) and a
// whoami route, both MOCK, on 127.0.0.1:8080 stage dev.
func Demo() *Config {
	cfg, err := Parse(demoYAML, func(string) (string, bool) { return "", false })
	if err != nil {
		panic("config: built-in demo is invalid: " + err.Error())
	}
	return cfg
}
