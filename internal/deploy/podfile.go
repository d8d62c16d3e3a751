package deploy

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/slipwayhq/slipway/internal/config"
)

// PodTemplate is what pod.yml contributes to the Deployment's pod template.
type PodTemplate struct {
	Labels      map[string]string
	Annotations map[string]string
	Spec        corev1.PodSpec
}

// ParsePod reads pod.yml: a Pod manifest whose metadata (labels,
// annotations) and spec become the pod template, or a bare PodSpec. It is
// read like slipway.yaml (config.ParseYAML: YAML 1.2, so `no` stays a string;
// one document; size and aliases bounded), and unknown fields, duplicate keys
// and values of the wrong type are reported with their line and column, all
// at once (config.DecodeJSON).
func ParsePod(file string, data []byte) (PodTemplate, error) {
	root, probs := config.ParseYAML(file, data, config.DefaultLimits)
	if len(probs) > 0 {
		return PodTemplate{}, probs
	}
	if root == nil {
		return PodTemplate{}, nil
	}
	if !slices.ContainsFunc(podKeys, func(k string) bool { return config.HasKey(root, k) }) {
		// Say nothing of what it holds: deploy.pod may name any file of
		// the project, one CI wrote a token to among them.
		return PodTemplate{}, config.Problems{{File: file, Line: root.Line, Col: root.Column,
			Msg: "not a pod manifest: want a mapping with apiVersion, kind, metadata or spec (a Pod), or containers (a bare pod spec); its content is not shown"}}
	}
	if config.HasKey(root, "containers") {
		var spec corev1.PodSpec
		if probs := config.DecodeJSON(file, root, &spec); probs != nil {
			return PodTemplate{}, probs
		}
		return PodTemplate{Spec: spec}, nil
	}
	var pod corev1.Pod
	if probs := config.DecodeJSON(file, root, &pod); probs != nil {
		return PodTemplate{}, probs
	}
	if pod.Kind != "" && pod.Kind != "Pod" {
		return PodTemplate{}, config.Problems{{File: file, Line: root.Line, Field: "kind", Msg: fmt.Sprintf("%q: pod.yml holds a Pod (or a bare pod spec), not a %s", clip(pod.Kind), clip(pod.Kind))}}
	}
	return PodTemplate{Labels: pod.Labels, Annotations: pod.Annotations, Spec: pod.Spec}, nil
}

// podKeys are the keys of a Pod, and containers of a bare pod spec: a
// file with none of them is not taken for one, so problems never quote it.
var podKeys = []string{"apiVersion", "kind", "metadata", "spec", "containers"}

// clip shortens a value quoted in a problem.
func clip(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	return s[:most] + "…"
}
