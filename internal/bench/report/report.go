// Package report holds a benchmark run's results — one table per
// scenario, with the checks against the targets — and renders them as
// Markdown tables (ready for BENCHMARKS.md) or JSON.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// Run is one invocation of `switchboard-bench run`.
type Run struct {
	Date      string      `json:"date"`
	Commit    string      `json:"commit"`
	Profile   string      `json:"profile"`
	Command   string      `json:"command"`
	Machine   Machine     `json:"machine"`
	Scenarios []*Scenario `json:"scenarios"`
	// Seconds is the run's wall time.
	Seconds float64 `json:"seconds"`
	// LoadAvg is /proc/loadavg at the start and at the end of the run
	// (other work on the machine skews every figure).
	LoadAvg [2]string `json:"loadavg"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpuModel"`
	MemTotal string `json:"memTotal"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	FDLimit  uint64 `json:"fdLimit"`
}

// Scenario is one scenario's table.
type Scenario struct {
	Name string `json:"name"`
	// Setup says what was run (connections, durations, rates).
	Setup   string   `json:"setup"`
	Columns []Column `json:"columns"`
	Rows    []Row    `json:"rows"`
	Checks  []Check  `json:"checks"`
	Notes   []string `json:"notes,omitempty"`
	// Error is set when the scenario could not complete.
	Error string `json:"error,omitempty"`
	// Profiles lists the profile files written for it.
	Profiles []string `json:"profiles,omitempty"`
}

// Column is one figure of a row.
type Column struct {
	Key    string `json:"key"`
	Header string `json:"header"`
	// Format: "int" (thousands separators), "f1", "f2", "f3" (decimals).
	Format string `json:"format"`
}

// Row is one system (and variant) measured.
type Row struct {
	System  string             `json:"system"`
	Variant string             `json:"variant,omitempty"`
	Values  map[string]float64 `json:"values"`
	// Note replaces the values when the row could not be measured.
	Note string `json:"note,omitempty"`
}

// Check compares a figure with a target. Targets are ratios (Unit "×")
// or absolute bounds (bytes, ms, counts).
type Check struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Op is ">=" or "<=" with Target; empty for a figure reported without
	// a target.
	Op     string  `json:"op,omitempty"`
	Target float64 `json:"target,omitempty"`
	// Met is the outcome when there is a target and a value.
	Met *bool `json:"met,omitempty"`
	// Skipped says why there is no value.
	Skipped string `json:"skipped,omitempty"`
}

// NewCheck evaluates value against op and target ("" op: no target).
func NewCheck(name string, value float64, unit, op string, target float64) Check {
	c := Check{Name: name, Value: value, Unit: unit, Op: op, Target: target}
	if op != "" && !math.IsNaN(value) && !math.IsInf(value, 0) {
		met := (op == ">=" && value >= target) || (op == "<=" && value <= target)
		c.Met = &met
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		c.Value = 0
		c.Skipped = "no figure (a side measured zero)"
	}
	return c
}

// Ratio is num/den, NaN when den is zero.
func Ratio(num, den float64) float64 {
	if den == 0 {
		return math.NaN()
	}
	return num / den
}

// Skip returns a check that could not be evaluated.
func Skip(name, unit, op string, target float64, why string) Check {
	return Check{Name: name, Unit: unit, Op: op, Target: target, Skipped: why}
}

// Add appends a row.
func (s *Scenario) Add(system, variant string, values map[string]float64) {
	s.Rows = append(s.Rows, Row{System: system, Variant: variant, Values: values})
}

// AddNote appends a row that could not be measured.
func (s *Scenario) AddNote(system, variant, note string) {
	s.Rows = append(s.Rows, Row{System: system, Variant: variant, Note: note})
}

// Notef appends a note under the table.
func (s *Scenario) Notef(format string, args ...any) {
	s.Notes = append(s.Notes, fmt.Sprintf(format, args...))
}

// JSON writes the run as indented JSON.
func (r *Run) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Markdown writes the header, every scenario's table and the summary.
func (r *Run) Markdown(w io.Writer) {
	r.Header(w)
	for _, s := range r.Scenarios {
		s.Markdown(w)
	}
	r.Summary(w)
}

// Header writes the run's title, machine and command.
func (r *Run) Header(w io.Writer) {
	fmt.Fprintf(w, "## %s, commit %s (profile %s)\n\n", r.Date, r.Commit, r.Profile)
	m := r.Machine
	fmt.Fprintf(w, "Machine: %d CPU (%s), %s, Linux %s, %s, %d file descriptors per process.\n\n",
		m.CPUs, m.CPUModel, m.MemTotal, m.Kernel, m.Go, m.FDLimit)
	fmt.Fprintf(w, "```sh\n%s\n```\n\n", r.Command)
}

// Summary writes every check that has a target, and the run's duration
// and load.
func (r *Run) Summary(w io.Writer) {
	rows := [][]string{{"check", "value", "target", "outcome"}}
	for _, s := range r.Scenarios {
		for _, c := range s.Checks {
			if c.Op != "" {
				rows = append(rows, []string{s.Name + ": " + c.Name, c.valueText(), c.targetText(), c.outcome()})
			}
		}
	}
	fmt.Fprintf(w, "### Targets\n\n")
	if len(rows) > 1 {
		writeTable(w, rows, "lrrl")
	}
	fmt.Fprintf(w, "Run took %.0f s; load average (1, 5, 15 min) %s at the start, %s at the end.\n\n", r.Seconds, r.LoadAvg[0], r.LoadAvg[1])
}

// Markdown writes the scenario's table, checks and notes.
func (s *Scenario) Markdown(w io.Writer) {
	fmt.Fprintf(w, "### %s\n\n", s.Name)
	if s.Setup != "" {
		fmt.Fprintf(w, "%s\n\n", s.Setup)
	}
	if s.Error != "" {
		fmt.Fprintf(w, "**Did not complete:** %s\n\n", oneLine(s.Error))
	}
	if len(s.Rows) > 0 {
		head := []string{"system"}
		hasVariant := false
		for _, r := range s.Rows {
			hasVariant = hasVariant || r.Variant != ""
		}
		if hasVariant {
			head = append(head, "load")
		}
		for _, c := range s.Columns {
			head = append(head, c.Header)
		}
		rows := [][]string{head}
		for _, r := range s.Rows {
			cells := []string{r.System}
			if hasVariant {
				cells = append(cells, r.Variant)
			}
			for _, c := range s.Columns {
				switch v, ok := r.Values[c.Key]; {
				case r.Note != "" || !ok:
					cells = append(cells, "—")
				default:
					cells = append(cells, Format(v, c.Format))
				}
			}
			rows = append(rows, cells)
		}
		align := strings.Repeat("l", 1+btoi(hasVariant)) + strings.Repeat("r", len(s.Columns))
		writeTable(w, rows, align)
	}
	if len(s.Checks) > 0 {
		rows := [][]string{{"check", "value", "target", "outcome"}}
		for _, c := range s.Checks {
			rows = append(rows, []string{c.Name, c.valueText(), c.targetText(), c.outcome()})
		}
		writeTable(w, rows, "lrrl")
	}
	for _, r := range s.Rows {
		if r.Note != "" {
			fmt.Fprintf(w, "- %s: %s\n", strings.TrimSpace(r.System+" "+r.Variant), r.Note)
		}
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	switch n := len(s.Profiles); {
	case n > 4:
		dir, _, _ := strings.Cut(s.Profiles[0], "/")
		fmt.Fprintf(w, "- profiles: %d files, %s/%s-*.pprof (listed in the JSON)\n", n, dir, s.Name)
	case n > 0:
		fmt.Fprintf(w, "- profiles: %s\n", strings.Join(s.Profiles, ", "))
	}
	fmt.Fprintln(w)
}

func (c Check) valueText() string {
	if c.Skipped != "" {
		return "—"
	}
	return formatUnit(c.Value, c.Unit)
}

func (c Check) targetText() string {
	if c.Op == "" {
		return "(none)"
	}
	op := map[string]string{">=": "≥", "<=": "≤"}[c.Op]
	return op + " " + formatUnit(c.Target, c.Unit)
}

func (c Check) outcome() string {
	switch {
	case c.Skipped != "":
		return "skipped: " + c.Skipped
	case c.Met == nil:
		return ""
	case *c.Met:
		return "**met**"
	}
	return "**missed**"
}

func formatUnit(v float64, unit string) string {
	switch unit {
	case "×":
		return fmt.Sprintf("%.2f×", v)
	case "B":
		return Format(v, "int") + " B"
	case "ms":
		return fmt.Sprintf("%.2f ms", v)
	case "":
		return Format(v, "int")
	}
	return Format(v, "int") + " " + unit
}

// Format renders v per a Column format.
func Format(v float64, format string) string {
	if math.Abs(v) < 0.0005 {
		v = 0 // no "-0.00"
	}
	switch format {
	case "f1":
		return fmt.Sprintf("%.1f", v)
	case "f2":
		return fmt.Sprintf("%.2f", v)
	case "f3":
		return fmt.Sprintf("%.3f", v)
	}
	return thousands(int64(math.Round(v)))
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// writeTable writes a Markdown table with padded columns, each aligned as
// align says ('l' or 'r' per column).
func writeTable(w io.Writer, rows [][]string, align string) {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for ri, r := range rows {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if align[i] == 'l' || ri == 0 {
				b.WriteString(" " + c + pad + " |")
			} else {
				b.WriteString(" " + pad + c + " |")
			}
		}
		fmt.Fprintln(w, b.String())
		if ri == 0 {
			b.Reset()
			b.WriteString("|")
			for i := range r {
				if align[i] == 'l' {
					b.WriteString(strings.Repeat("-", width[i]+2) + "|")
				} else {
					b.WriteString(strings.Repeat("-", width[i]+1) + ":|")
				}
			}
			fmt.Fprintln(w, b.String())
		}
	}
	fmt.Fprintln(w)
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
