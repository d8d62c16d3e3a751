package deploy

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/slipwayhq/slipway/internal/config"
)

// everyKind renders manifests holding every kind Slipway deploys: each
// environment of the examples, a canary with a weight, a pull secret.
func everyKind(t *testing.T) []Manifests {
	t.Helper()
	var out []Manifests
	for _, ex := range []string{"hello-go", "hello-jvm"} {
		p, pod := exampleAt(t, ex)
		for _, env := range p.Environments {
			if env.CanaryOf != "" {
				env.Canary = &config.Canary{Weight: 10}
			}
			m, err := Render(RenderInput{Project: p, Env: env, Pod: pod, Version: "1.2.3", Commit: "0123abc",
				Image: "r.example.com/hello@" + digest, PullSecret: []byte(`{"auths":{}}`)})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	return out
}

// TestApplySendsEveryField checks what a server-side apply sends for each
// kind: the typed object's every field but nulls, by its own kind's
// client, with Slipway's field manager and the options asked for.
func TestApplySendsEveryField(t *testing.T) {
	resources := map[string]string{"Namespace": "namespaces", "Secret": "secrets", "Deployment": "deployments",
		"PodDisruptionBudget": "poddisruptionbudgets", "Service": "services", "Ingress": "ingresses"}
	kinds := map[string]bool{}
	for _, m := range everyKind(t) {
		for _, mf := range m.manifests() {
			cs := fake.NewClientset()
			var sent k8stesting.PatchActionImpl
			cs.PrependReactor("patch", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
				sent = a.(k8stesting.PatchActionImpl)
				return true, mf.obj.DeepCopyObject(), nil
			})
			c := NewCluster(cs, "dev")
			if _, err := c.apply(context.Background(), mf, ApplyOptions{Force: true, DryRun: true}); err != nil {
				t.Fatalf("applying %s: %v", mf, err)
			}
			kinds[mf.kind] = true
			meta := mf.obj.(metav1.Object)
			gvk := mf.obj.GetObjectKind().GroupVersionKind()
			if sent.GetPatchType() != types.ApplyPatchType || sent.GetName() != meta.GetName() || sent.GetNamespace() != meta.GetNamespace() ||
				sent.GetResource().Group != gvk.Group || sent.GetResource().Resource != resources[gvk.Kind] {
				t.Errorf("%s: sent %s of %s %s/%s", mf, sent.GetPatchType(), sent.GetResource(), sent.GetNamespace(), sent.GetName())
			}
			if o := sent.PatchOptions; o.FieldManager != FieldManager || o.Force == nil || !*o.Force || len(o.DryRun) != 1 {
				t.Errorf("%s: options %+v", mf, o)
			}
			var got, want any
			if err := json.Unmarshal(sent.GetPatch(), &got); err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(mf.obj)
			_ = json.Unmarshal(data, &want)
			dropNulls(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: sent\n%s\nwant every field of\n%s", mf, sent.GetPatch(), data)
			}
		}
	}
	for k := range resources {
		if !kinds[k] {
			t.Errorf("no %s applied", k)
		}
	}
}

func dropNulls(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e == nil {
				delete(v, k)
			}
			dropNulls(e)
		}
	case []any:
		for _, e := range v {
			dropNulls(e)
		}
	}
}

// TestShown checks the YAML of an object as Slipway prints it: what the
// API types always encode and nobody set is left out, what a pod.yml says
// is kept, even text that looks like the fields left out.
func TestShown(t *testing.T) {
	text := "a\nstatus:\n  creationTimestamp: null\nspec: {}\n"
	pod := corev1.PodSpec{
		Containers: []corev1.Container{{Name: "app", Env: []corev1.EnvVar{{Name: "TEXT", Value: text}}}},
		Volumes: []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
			VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}}},
		}}}},
	}
	tests := []struct {
		name string
		obj  runtime.Object
		want string
	}{
		{"a namespace: no empty spec or status", newNamespace("hello"),
			"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: hello\n"},
		{"a service: no status", &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: "hello"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}},
			"apiVersion: v1\nkind: Service\nmetadata:\n  name: hello\nspec:\n  type: ClusterIP\n"},
		{"a secret: values redacted", &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: "pull"}, Data: map[string][]byte{"k": []byte("secret")}},
			"apiVersion: v1\nkind: Secret\nmetadata:\n  name: pull\nstringData:\n  k: REDACTED\n"},
		{"a pod template: no creationTimestamp anywhere, text kept whole",
			&corev1.PodTemplate{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodTemplate"},
				ObjectMeta: metav1.ObjectMeta{Name: "t"}, Template: corev1.PodTemplateSpec{Spec: pod}},
			`apiVersion: v1
kind: PodTemplate
metadata:
  name: t
template:
  metadata: {}
  spec:
    containers:
    - env:
      - name: TEXT
        value: |
          a
          status:
            creationTimestamp: null
          spec: {}
      name: app
      resources: {}
    volumes:
    - ephemeral:
        volumeClaimTemplate:
          metadata:
            labels:
              a: b
          spec:
            resources: {}
      name: scratch
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := shown(tt.obj)
			if err != nil || string(got) != tt.want {
				t.Errorf("shown = %v\n%s\nwant\n%s", err, got, tt.want)
			}
		})
	}
}
