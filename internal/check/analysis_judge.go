package check

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/slipwayhq/slipway/internal/config"
)

// value is one side's value of an analysis metric in one round; ok is
// false when the side had none (no sample, or NaN, as a rate over no
// requests is).
type value struct {
	v  float64
	ok bool
}

func (x value) String() string {
	if !x.ok {
		return "no value"
	}
	return num(x.v)
}

// num writes a metric's value short: 4 significant digits.
func num(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }

// reading is one round's values of a metric, for the canary and for its
// main environment.
type reading struct{ canary, main value }

// tally counts, for one metric, the rounds in which the canary had a
// value, and those in which both sides had one (compared).
type tally struct{ canary, compared int }

// oneValue reads the one value of a side's answer; it says what is wrong
// when the answer holds more than one sample.
func oneValue(samples []sample) (value, string) {
	switch {
	case len(samples) == 0:
		return value{}, ""
	case len(samples) > 1:
		return value{}, fmt.Sprintf("returned %d samples, not one; aggregate them, e.g. sum(...) or max(...)", len(samples))
	case math.IsNaN(samples[0].value):
		return value{}, ""
	}
	return value{v: samples[0].value, ok: true}, ""
}

// compare judges one round of metric m, naming main the environment the
// canary is compared with: "" when the canary's value holds, else why
// not. A canary with no value holds (its pods may not be scraped yet: the
// window's end judges that); relative bounds hold when main has no value.
// The canary must be at most max, and with maxRatio or maxIncrease at most
// main's value times maxRatio or plus maxIncrease, whichever allows more.
func compare(m config.AnalysisMetric, main string, r reading) string {
	c, b := r.canary, r.main
	if !c.ok {
		return ""
	}
	if m.Max != "" && c.v > bound(m.Max) {
		return fmt.Sprintf("%s: the canary's %s is above max %s (%s %s)", m.Name, num(c.v), m.Max, main, b)
	}
	if !m.Relative() || !b.ok {
		return ""
	}
	limit, how := ceiling(m, main, b.v)
	if c.v > limit {
		return fmt.Sprintf("%s: the canary's %s is above %s (%s)", m.Name, num(c.v), num(limit), how)
	}
	return ""
}

// ceiling is the most metric m lets the canary have when main's value is
// b, and how it is worked out.
func ceiling(m config.AnalysisMetric, main string, b float64) (float64, string) {
	byRatio, byIncrease := math.Inf(-1), math.Inf(-1)
	if m.MaxRatio != "" {
		byRatio = b * bound(m.MaxRatio)
	}
	if m.MaxIncrease != "" {
		byIncrease = b + bound(m.MaxIncrease)
	}
	if byRatio >= byIncrease {
		return byRatio, fmt.Sprintf("maxRatio %s × %s's %s", m.MaxRatio, main, num(b))
	}
	return byIncrease, fmt.Sprintf("%s's %s + maxIncrease %s", main, num(b), m.MaxIncrease)
}

// judgeRound judges one round's readings of metrics, counting in tallies
// which sides had values: "" when every metric holds, else why the first
// that does not.
func judgeRound(metrics []config.AnalysisMetric, main string, readings []reading, tallies []tally) string {
	for i, m := range metrics {
		r := readings[i]
		if r.canary.ok {
			tallies[i].canary++
			if r.main.ok {
				tallies[i].compared++
			}
		}
		if msg := compare(m, main, r); msg != "" {
			return msg
		}
	}
	return ""
}

// noData says, at the window's end, which metric with noData: fail never
// had a value to judge: the canary's, or for a relative bound main's
// beside it; "" when none.
func noData(metrics []config.AnalysisMetric, main string, tallies []tally) string {
	for i, m := range metrics {
		switch {
		case m.NoData == "pass":
		case tallies[i].canary == 0:
			return fmt.Sprintf("%s: the canary's pods had no value in any round (noData: fail); do they get traffic, and does Prometheus scrape them?", m.Name)
		case m.Max == "" && tallies[i].compared == 0:
			return fmt.Sprintf("%s: %s's pods had no value in any round the canary's had one, so there was nothing to compare with (noData: fail)", m.Name, main)
		}
	}
	return ""
}

// readingLines writes a round's readings, one metric a line, for a
// failed analysis's output.
func readingLines(metrics []config.AnalysisMetric, main string, readings []reading) []string {
	var b strings.Builder
	for i, m := range metrics {
		if i < len(readings) {
			fmt.Fprintf(&b, "%s: canary %s, %s %s\n", m.Name, readings[i].canary, main, readings[i].main)
		}
	}
	return tail(b.String())
}
