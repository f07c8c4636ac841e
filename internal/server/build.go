package server

import (
	"fmt"
	"net/http"
	"time"

	"github.com/switchboardgw/switchboard/internal/config"
	"github.com/switchboardgw/switchboard/internal/dispatch"
	"github.com/switchboardgw/switchboard/internal/integration"
	"github.com/switchboardgw/switchboard/internal/integration/awsproxy"
	"github.com/switchboardgw/switchboard/internal/integration/httpproxy"
	"github.com/switchboardgw/switchboard/internal/integration/mock"
)

// buildRoutes turns the configured integrations and routes into compiled
// routes. Integrations are built once and shared by the routes naming them.
func buildRoutes(cfg *config.Config, lambdas *awsproxy.LambdaClients, client *http.Client) (map[string]*dispatch.Route, error) {
	built := make(map[string]integration.Integration, len(cfg.Integrations))
	for name, in := range cfg.Integrations {
		ig, err := buildIntegration(cfg, in, lambdas, client)
		if err != nil {
			return nil, fmt.Errorf("integrations.%s: %w", name, err)
		}
		built[name] = ig
	}
	routes := make(map[string]*dispatch.Route, len(cfg.Routes))
	for key, r := range cfg.Routes {
		routes[key] = &dispatch.Route{
			Key:         key,
			Integration: built[r.Integration],
			Timeout:     time.Duration(cfg.Integrations[r.Integration].TimeoutInMillis) * time.Millisecond,
			TwoWay:      r.RouteResponseSelectionExpression != "",
		}
	}
	return routes, nil
}

func buildIntegration(cfg *config.Config, in *config.Integration, lambdas *awsproxy.LambdaClients, client *http.Client) (integration.Integration, error) {
	uri, _ := cfg.SubstituteStageVariables(in.URI)
	switch in.Type {
	case config.TypeAWSProxy:
		return awsproxy.New(uri, lambdas, client)
	case config.TypeHTTPProxy:
		return httpproxy.New(in.IntegrationMethod, uri, in.RequestParameters, cfg.Stage.Variables, client)
	case config.TypeMock:
		return mock.New(in.Response, cfg.Stage.Variables)
	}
	return nil, fmt.Errorf("unknown integration type %q", in.Type)
}
