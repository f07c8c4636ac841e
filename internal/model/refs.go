package model

import (
	"fmt"
	"net/url"
	"strings"
)

// modelBase is where each model lives for reference resolution: API
// Gateway's own URL form for models, so "$ref": "Other" resolves to the
// model named Other, as does the absolute form with any API id.
const modelBase = "https://apigateway.amazonaws.com/restapis/switchboard/models/"

// modelURL is the location of the model called name.
func modelURL(name string) string { return modelBase + name }

// refLoader is the compiler's only way to load a document it does not have:
// it answers for configured models and refuses everything else, so no
// reference ever reaches the network or the file system. The JSON Schema
// meta-schemas are built into the library and never reach the loader.
type refLoader struct {
	docs map[string]any // model name → decoded schema
}

func (l refLoader) Load(u string) (any, error) {
	name, ok := modelName(u)
	if !ok {
		return nil, fmt.Errorf("reference refused: only other models can be referenced, by name or as %s{Name}", strings.Replace(modelBase, "switchboard", "{id}", 1))
	}
	doc, ok := l.docs[name]
	if !ok {
		return nil, fmt.Errorf("no model named %q", name)
	}
	return doc, nil
}

// modelName extracts Name from https://apigateway.amazonaws.com/restapis/{id}/models/{Name}.
func modelName(u string) (string, bool) {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "https" || p.Host != "apigateway.amazonaws.com" || p.User != nil || p.RawQuery != "" {
		return "", false
	}
	parts := strings.Split(p.Path, "/")
	// "", "restapis", id, "models", name
	if len(parts) != 5 || parts[0] != "" || parts[1] != "restapis" || parts[2] == "" || parts[3] != "models" || parts[4] == "" {
		return "", false
	}
	return parts[4], true
}
