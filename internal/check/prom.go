package check

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// promAnswer is the envelope of Prometheus's HTTP API.
type promAnswer struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// parseProm reads an instant query's answer (status code and body): the
// samples of a vector or a scalar.
func parseProm(code int, body []byte) ([]sample, error) {
	var a promAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("the answer (status %d) is not Prometheus's JSON: %w", code, err)
	}
	if a.Status != "success" {
		return nil, fmt.Errorf("status %d: %s: %s", code, a.ErrorType, a.Error)
	}
	switch a.Data.ResultType {
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(a.Data.Result, &v); err != nil {
			return nil, fmt.Errorf("reading the scalar: %w", err)
		}
		f, err := sampleValue(v)
		return []sample{{labels: "scalar", value: f}}, err
	case "vector":
		var vs []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(a.Data.Result, &vs); err != nil {
			return nil, fmt.Errorf("reading the vector: %w", err)
		}
		out := make([]sample, 0, len(vs))
		for _, v := range vs {
			f, err := sampleValue(v.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, sample{labels: labelText(v.Metric), value: f})
		}
		return out, nil
	}
	return nil, fmt.Errorf("the query returned a %s; give one that returns a vector or a scalar", a.Data.ResultType)
}

// sampleValue reads [time, "value"].
func sampleValue(v [2]any) (float64, error) {
	s, ok := v[1].(string)
	if !ok {
		return 0, fmt.Errorf("a sample's value is %v, not a string", v[1])
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("a sample's value %q is not a number", s)
	}
	return f, nil
}

// labelText writes labels as {a="1", b="2"}, sorted.
func labelText(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
