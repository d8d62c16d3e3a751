package bootstrap

import (
	"bytes"
	"fmt"

	"sigs.k8s.io/yaml"
)

// meta is an object's apiVersion, kind and metadata.
type meta struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   metadata `json:"metadata"`
}

type metadata struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

func newMeta(apiVersion, kind string, r ref) meta {
	return meta{APIVersion: apiVersion, Kind: kind, Metadata: metadata{Name: r.Name, Namespace: r.Namespace}}
}

// GitRepository is the part of a source.toolkit.fluxcd.io/v1
// GitRepository that Render writes.
type GitRepository struct {
	meta
	Spec GitRepositorySpec `json:"spec"`
}

// GitRepositorySpec is a GitRepository's spec.
type GitRepositorySpec struct {
	URL       string     `json:"url"`
	Ref       GitRef     `json:"ref"`
	Interval  string     `json:"interval"`
	SecretRef *LocalName `json:"secretRef,omitempty"`
}

// GitRef is a GitRepository's ref: a branch.
type GitRef struct {
	Branch string `json:"branch"`
}

// LocalName names an object in the same namespace.
type LocalName struct {
	Name string `json:"name"`
}

// Kustomization is the part of a kustomize.toolkit.fluxcd.io/v1
// Kustomization that Render writes.
type Kustomization struct {
	meta
	Spec KustomizationSpec `json:"spec"`
}

// KustomizationSpec is a Kustomization's spec. It sets no
// targetNamespace: the manifests Slipway commits name their namespace.
type KustomizationSpec struct {
	Interval  string    `json:"interval"`
	Timeout   string    `json:"timeout"`
	Path      string    `json:"path"`
	Prune     bool      `json:"prune"`
	Wait      bool      `json:"wait"`
	SourceRef SourceRef `json:"sourceRef"`
}

// SourceRef is a Kustomization's source.
type SourceRef struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// Application is the part of an argoproj.io/v1alpha1 Application that
// Render writes.
type Application struct {
	meta
	Spec ApplicationSpec `json:"spec"`
}

// ApplicationSpec is an Application's spec.
type ApplicationSpec struct {
	Project     string      `json:"project"`
	Source      AppSource   `json:"source"`
	Destination Destination `json:"destination"`
	SyncPolicy  SyncPolicy  `json:"syncPolicy"`
}

// AppSource is where an Application takes its manifests from.
type AppSource struct {
	RepoURL        string `json:"repoURL"`
	TargetRevision string `json:"targetRevision"`
	Path           string `json:"path"`
}

// Destination is where an Application applies them.
type Destination struct {
	Server    string `json:"server"`
	Namespace string `json:"namespace"`
}

// SyncPolicy says how an Application syncs.
type SyncPolicy struct {
	Automated Automated `json:"automated"`
}

// Automated syncs on every change, removing what the repository no
// longer holds and undoing changes made in the cluster.
type Automated struct {
	Prune    bool `json:"prune"`
	SelfHeal bool `json:"selfHeal"`
}

// document writes comment, each line prefixed with "# ", then objs as
// YAML documents.
func document(comment []string, objs ...any) ([]byte, error) {
	var b bytes.Buffer
	for _, l := range comment {
		if l == "" {
			b.WriteString("#\n")
			continue
		}
		b.WriteString("# " + l + "\n")
	}
	for _, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("encoding %T: %w", o, err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes(), nil
}
