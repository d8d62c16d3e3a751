package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	typedappsv1 "k8s.io/client-go/kubernetes/typed/apps/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	typednetworkingv1 "k8s.io/client-go/kubernetes/typed/networking/v1"
	typedpolicyv1 "k8s.io/client-go/kubernetes/typed/policy/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// manifest is one object of Manifests with the typed client of its kind:
// all that applying it, reading it live and naming it need, so that no
// code switches over the kinds Slipway deploys.
type manifest struct {
	obj runtime.Object
	// kind and name name it in messages: "Deployment" and "hello/hello",
	// a Namespace's name alone.
	kind, name string
	// apply server-side applies obj as an apply configuration; get reads
	// the live object.
	apply func(context.Context, kubernetes.Interface, metav1.ApplyOptions) (runtime.Object, error)
	get   func(context.Context, kubernetes.Interface) (runtime.Object, error)
}

func (m manifest) String() string { return m.kind + " " + m.name }

// kindObject is a typed object (a pointer) of a kind Slipway deploys.
type kindObject interface {
	comparable
	runtime.Object
	metav1.Object
}

// kindClient is what Slipway uses of a kind's typed client, which
// client-go gives every kind: T is the kind's type, AC its apply
// configuration.
type kindClient[T, AC any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Apply(ctx context.Context, ac AC, opts metav1.ApplyOptions) (T, error)
}

// manifestOf is obj with the typed client of its kind, in obj's
// namespace: kind(group(c), namespace), as in
// c.AppsV1().Deployments(namespace). ok is false when obj is nil. The
// kind named is obj's own (Render sets every object's; an apply needs it).
func manifestOf[T kindObject, AC, G any, C kindClient[T, AC]](obj T, group func(kubernetes.Interface) G, kind func(G, string) C) (m manifest, ok bool) {
	var none T
	if obj == none {
		return manifest{}, false
	}
	ns, name := obj.GetNamespace(), obj.GetName()
	m = manifest{obj: obj, kind: obj.GetObjectKind().GroupVersionKind().Kind, name: name}
	if ns != "" {
		m.name = ns + "/" + name
	}
	client := func(c kubernetes.Interface) C { return kind(group(c), ns) }
	m.apply = func(ctx context.Context, c kubernetes.Interface, o metav1.ApplyOptions) (runtime.Object, error) {
		ac, err := asApplyConfiguration[AC](obj)
		if err != nil {
			return nil, err
		}
		return client(c).Apply(ctx, ac, o)
	}
	m.get = func(ctx context.Context, c kubernetes.Interface) (runtime.Object, error) {
		return client(c).Get(ctx, name, metav1.GetOptions{})
	}
	return m, true
}

// namespaces is the client of Namespaces, which have no namespace, in the
// shape of the clients of namespaced kinds.
func namespaces(c typedcorev1.CoreV1Interface, _ string) typedcorev1.NamespaceInterface {
	return c.Namespaces()
}

// manifests are m's objects in the order they are applied (see Objects),
// each with its kind's client.
func (m Manifests) manifests() []manifest {
	var out []manifest
	add := func(mf manifest, ok bool) {
		if ok {
			out = append(out, mf)
		}
	}
	core := kubernetes.Interface.CoreV1
	add(manifestOf(m.Namespace, core, namespaces))
	add(manifestOf(m.Secret, core, typedcorev1.CoreV1Interface.Secrets))
	add(manifestOf(m.Deployment, kubernetes.Interface.AppsV1, typedappsv1.AppsV1Interface.Deployments))
	add(manifestOf(m.Budget, kubernetes.Interface.PolicyV1, typedpolicyv1.PolicyV1Interface.PodDisruptionBudgets))
	add(manifestOf(m.Service, core, typedcorev1.CoreV1Interface.Services))
	add(manifestOf(m.Ingress, kubernetes.Interface.NetworkingV1, typednetworkingv1.NetworkingV1Interface.Ingresses))
	add(manifestOf(m.CanaryService, core, typedcorev1.CoreV1Interface.Services))
	add(manifestOf(m.CanaryIngress, kubernetes.Interface.NetworkingV1, typednetworkingv1.NetworkingV1Interface.Ingresses))
	return out
}

// asApplyConfiguration is v, a typed object or part of one, as the apply
// configuration AC: every field v's JSON holds, but for nulls. So what a
// server-side apply sends is what the typed object says (its empty
// status too, which an apply to the object itself leaves alone), and
// its manager owns exactly the fields Slipway sets.
func asApplyConfiguration[AC any](v any) (AC, error) {
	var ac AC
	data, err := json.Marshal(v)
	if err != nil {
		return ac, fmt.Errorf("encoding %T: %w", v, err)
	}
	if err := json.Unmarshal(data, &ac); err != nil {
		return ac, fmt.Errorf("decoding %T as %T: %w", v, ac, err)
	}
	return ac, nil
}

// shown is obj as Slipway shows it, in YAML: secret values redacted, and
// without what the API types always encode though nobody set it (see
// declared).
func shown(obj runtime.Object) ([]byte, error) {
	if s, ok := obj.(*corev1.Secret); ok {
		obj = redacted(s)
	}
	fields, err := declared(obj)
	if err != nil {
		return nil, err
	}
	y, err := sigsyaml.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("encoding %T: %w", obj, err)
	}
	return y, nil
}

// declared is obj's JSON as fields, without its status and an empty spec,
// which the API types always encode, and without creationTimestamp null
// (of the object, its pod template and any template within), which the
// API server alone sets. Numbers stay as written.
func declared(obj runtime.Object) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding %T: %w", obj, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return nil, fmt.Errorf("decoding %T: %w", obj, err)
	}
	delete(fields, "status")
	if spec, ok := fields["spec"].(map[string]any); ok && len(spec) == 0 {
		delete(fields, "spec")
	}
	dropNullTimestamps(fields)
	return fields, nil
}

// dropNullTimestamps deletes every creationTimestamp null within v, a
// decoded JSON value.
func dropNullTimestamps(v any) {
	switch v := v.(type) {
	case map[string]any:
		if t, ok := v["creationTimestamp"]; ok && t == nil {
			delete(v, "creationTimestamp")
		}
		for _, e := range v {
			dropNullTimestamps(e)
		}
	case []any:
		for _, e := range v {
			dropNullTimestamps(e)
		}
	}
}
