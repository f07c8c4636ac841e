package probe

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Sample is one line of a Prometheus text exposition: a series and its
// value.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Samples are the samples of one scrape.
type Samples []Sample

// ReadMetrics scrapes metricsURL/metrics (Prometheus text format).
func ReadMetrics(ctx context.Context, metricsURL string) (Samples, error) {
	body, err := get(ctx, metricsURL+"/metrics")
	if err != nil {
		return nil, err
	}
	s, err := ParseMetrics(body)
	if err != nil {
		return nil, fmt.Errorf("%s/metrics: %w", metricsURL, err)
	}
	return s, nil
}

// Sum adds the values of the series named name whose labels include every
// key=value pair of match (given as key, value, key, value, ...). It also
// returns how many series it added.
func (s Samples) Sum(name string, match ...string) (float64, int) {
	var sum float64
	n := 0
next:
	for _, x := range s {
		if x.Name != name {
			continue
		}
		for i := 0; i+1 < len(match); i += 2 {
			if x.Labels[match[i]] != match[i+1] {
				continue next
			}
		}
		sum += x.Value
		n++
	}
	return sum, n
}

// ParseMetrics parses the Prometheus text exposition format (version
// 0.0.4): comment lines are skipped; each other line is a name, optional
// {labels}, a value and an optional timestamp.
func ParseMetrics(text []byte) (Samples, error) {
	var out Samples
	for n, line := range bytes.Split(text, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		s, err := parseSample(string(line))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w: %.120q", n+1, err, line)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseSample(line string) (Sample, error) {
	end := strings.IndexAny(line, "{ \t")
	if end <= 0 {
		return Sample{}, fmt.Errorf("no value")
	}
	s := Sample{Name: line[:end]}
	rest := line[end:]
	if rest[0] == '{' {
		labels, after, err := parseLabels(rest[1:])
		if err != nil {
			return Sample{}, err
		}
		s.Labels, rest = labels, after
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 || len(fields) > 2 {
		return Sample{}, fmt.Errorf("want a value and an optional timestamp")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return Sample{}, fmt.Errorf("value: %w", err)
	}
	s.Value = v
	return s, nil
}

// parseLabels reads `k="v",k="v"}` (a trailing comma allowed) and returns
// the labels and what follows the closing brace.
func parseLabels(s string) (map[string]string, string, error) {
	labels := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t")
		if strings.HasPrefix(s, "}") {
			return labels, s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return nil, "", fmt.Errorf("malformed label")
		}
		key := strings.TrimSpace(s[:eq])
		var val strings.Builder
		i := eq + 2
		for ; i < len(s) && s[i] != '"'; i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					c = '\n'
				default: // \\ and \"
					c = s[i]
				}
			}
			val.WriteByte(c)
		}
		if i >= len(s) {
			return nil, "", fmt.Errorf("unterminated label value")
		}
		labels[key] = val.String()
		s = strings.TrimLeft(s[i+1:], " \t")
		s = strings.TrimPrefix(s, ",")
	}
}
