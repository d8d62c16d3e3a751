package flow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/release"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// head is the version the fake git repository describes at HEAD.
var head = release.Info{Version: "1.2.3", Commit: "c0ffee0123456789c0ffee0123456789c0ffee01", ShortCommit: "c0ffee0"}

// projectYAML is a project with a home registry dev and a second one rc,
// a plain environment dev, showcase, prod gated by its canary, and a
// canary gated by showcase with a soak time.
const projectYAML = `apiVersion: slipway/v1
app: hello
image:
  base: scratch
  layers: [{from: hello.txt, to: /app/hello.txt}]
  entrypoint: [/app/hello]
registries:
  dev: {url: %[1]s/team, insecure: true}
  rc: {url: %[1]s/rc, insecure: true}
environments:
  dev: {registry: dev, namespace: hello-dev, context: dev-ctx}
  showcase: {registry: rc, namespace: hello-showcase, context: dev-ctx}
  canary: {registry: rc, namespace: hello, context: prod-ctx, canaryOf: prod, requires: {env: showcase, soak: 1h}}
  prod: {registry: rc, namespace: hello, context: prod-ctx, replicas: 2, requires: canary}
deploy: {port: 8080, timeout: 20s}
`

// podYAML gives the app a readiness probe, as production asks.
const podYAML = `spec:
  containers:
  - name: app
    readinessProbe: {httpGet: {path: /healthz, port: 8080}}
`

// fixture is a project whose registries are one in-process registry,
// whose clusters are one fake clientset playing the controllers, and
// whose HEAD is the version head.
type fixture struct {
	t    *testing.T
	p    *config.Project
	host string
	kube *fakeKube
	// connects counts the connections made, by environment and context.
	mu       sync.Mutex
	connects map[string]int
	// refuse makes connecting to the environments it names fail.
	refuse map[string]error
	events progress.Recorder
	// now is the time of gates; zero for the clock's.
	now time.Time
	// digests are the digests pushed, by version, when a test keeps them.
	digests map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("SLIPWAY_ACTOR", "alice")
	f := &fixture{t: t, host: testutil.Host(testutil.Registry(t)), kube: newFakeKube(t),
		connects: map[string]int{}, refuse: map[string]error{}}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, config.ProjectFile), fmt.Appendf(nil, projectYAML, f.host), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"pod.yml": podYAML, "hello.txt": "hello\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := config.LoadProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	f.p = p
	return f
}

// factory makes the fixture's fakes.
func (f *fixture) factory() Factory {
	return Factory{
		Cluster: func(env config.Environment, o deploy.ClusterOptions) (*deploy.Cluster, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.connects[env.Name+"@"+cmpOr(o.Context, env.Context)]++
			if err := f.refuse[env.Name]; err != nil {
				return nil, err
			}
			return deploy.NewCluster(f.kube.cs, env.Name), nil
		},
		Version: func(release.VersionOptions) (release.Info, error) { return head, nil },
		Words:   sayRemedy,
		Now: func() time.Time {
			if f.now.IsZero() {
				return time.Now()
			}
			return f.now
		},
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// runner is a Runner of the fixture's project with its fakes.
func (f *fixture) runner() *Runner { return NewRunner(f.p, f.factory()) }

// options are step options reporting to the fixture's recorder.
func (f *fixture) options() Options { return Options{UserAgent: "slipway-test", Progress: &f.events} }

// push puts a random image, run as a user who is not root, into the
// registry called reg as the version, and returns its digest.
func (f *fixture) push(reg, version string) string {
	f.t.Helper()
	return f.pushAs(reg, version, "65532")
}

// pushAs is push with the image's user.
func (f *fixture) pushAs(reg, version, user string) string {
	f.t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		f.t.Fatal(err)
	}
	if img, err = mutate.Config(img, v1.Config{User: user}); err != nil {
		f.t.Fatal(err)
	}
	r, _ := f.p.Registries.Get(reg)
	ref, err := name.NewTag(r.URL+"/hello:"+registry.VersionTag(version), name.Insecure)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		f.t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		f.t.Fatal(err)
	}
	return d.String()
}

// image is the reference by digest a deploy of digest from registry reg
// runs.
func (f *fixture) image(reg, digest string) string {
	r, _ := f.p.Registries.Get(reg)
	return r.URL + "/hello@" + digest
}

// env is the project's environment called name.
func (f *fixture) env(name string) config.Environment {
	f.t.Helper()
	e, err := f.p.Environment(name)
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

// deployed makes the fake cluster run digest as version in the
// environment called env, healthy, deployed at when.
func (f *fixture) deployed(env, version, digest string, when time.Time) {
	f.t.Helper()
	e := f.env(env)
	f.kube.run(f.t, e.Namespace, deploy.Name(f.p, e), version, digest, when)
}

// connected is how many times the fixture connected to env with context.
func (f *fixture) connected(env, context string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connects[env+"@"+context]
}

// fakeKube is a fake clientset that plays the deployment controller and
// the kubelet: a Deployment applied rolls out at once, its pods ready,
// unless its image is one crash names, whose pods crash-loop. Dry-run
// applies change nothing. Generations count changes of spec and
// annotations, as the API server's do.
type fakeKube struct {
	cs *fake.Clientset

	mu    sync.Mutex
	crash map[string]bool // images whose containers crash
}

var deploymentsGVR = appsv1.SchemeGroupVersion.WithResource("deployments")

func newFakeKube(t *testing.T) *fakeKube {
	k := &fakeKube{cs: fake.NewClientset(), crash: map[string]bool{}}
	apply := k8stesting.ObjectReaction(k.cs.Tracker())
	k.cs.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pa := a.(k8stesting.PatchActionImpl)
		old, err := k.get(pa.GetNamespace(), pa.GetName())
		if err != nil {
			return true, nil, err
		}
		_, obj, err := apply(a)
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		d.Generation = generation(old, d)
		if d.UID == "" {
			d.UID = types.UID("uid-" + d.Name)
		}
		if len(pa.PatchOptions.DryRun) > 0 {
			return true, d, k.restore(old, d)
		}
		if err := k.rollout(old, d); err != nil {
			return true, nil, err
		}
		return true, d, nil
	})
	return k
}

// get is the live Deployment, nil when there is none.
func (k *fakeKube) get(ns, name string) (*appsv1.Deployment, error) {
	obj, err := k.cs.Tracker().Get(deploymentsGVR, ns, name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return obj.(*appsv1.Deployment), nil
}

// restore undoes a dry run's apply.
func (k *fakeKube) restore(old, d *appsv1.Deployment) error {
	if old == nil {
		return k.cs.Tracker().Delete(deploymentsGVR, d.Namespace, d.Name)
	}
	return k.cs.Tracker().Update(deploymentsGVR, old, old.Namespace)
}

// generation is what the API server makes of d's generation, replacing old.
func generation(old, d *appsv1.Deployment) int64 {
	if old == nil {
		return 1
	}
	if apiequality.Semantic.DeepEqual(old.Spec, d.Spec) && apiequality.Semantic.DeepEqual(old.Annotations, d.Annotations) {
		return old.Generation
	}
	return old.Generation + 1
}

// rollout plays the controller for d: a ReplicaSet of its template (a new
// revision, or the old one's again), its pods, the old pods gone, and the
// Deployment's status.
func (k *fakeKube) rollout(old, d *appsv1.Deployment) error {
	t := k.cs.Tracker()
	rss, err := k.replicaSets(d)
	if err != nil {
		return err
	}
	rev := int64(0)
	var cur *appsv1.ReplicaSet
	for i := range rss {
		rev = max(rev, revision(rss[i].Annotations))
		if sameTemplate(&rss[i].Spec.Template, &d.Spec.Template) {
			cur = &rss[i]
		}
	}
	if old != nil && cur != nil && old.Annotations[deploy.AnnotationRevision] == cur.Annotations[deploy.AnnotationRevision] {
		rev-- // the template did not change: no new revision
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[deploy.AnnotationRevision] = strconv.FormatInt(rev+1, 10)
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	rs, err := k.replicaSet(d, cur, rev+1, want)
	if err != nil {
		return err
	}
	crash := k.crashes(d)
	if err := k.replacePods(d, rs, want, crash); err != nil {
		return err
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: want, UpdatedReplicas: want}
	if !crash {
		d.Status.ReadyReplicas, d.Status.AvailableReplicas = want, want
	}
	return t.Update(deploymentsGVR, d, d.Namespace)
}

func (k *fakeKube) crashes(d *appsv1.Deployment) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.crash[d.Spec.Template.Spec.Containers[0].Image]
}

// crashImage makes the containers of image crash from now on.
func (k *fakeKube) crashImage(image string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.crash[image] = true
}

func revision(a map[string]string) int64 {
	n, _ := strconv.ParseInt(a[deploy.AnnotationRevision], 10, 64)
	return n
}

func sameTemplate(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return apiequality.Semantic.DeepEqual(a, b)
}

// replicaSets are d's ReplicaSets.
func (k *fakeKube) replicaSets(d *appsv1.Deployment) ([]appsv1.ReplicaSet, error) {
	obj, err := k.cs.Tracker().List(appsv1.SchemeGroupVersion.WithResource("replicasets"),
		appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), d.Namespace)
	if err != nil {
		return nil, err
	}
	var out []appsv1.ReplicaSet
	for _, rs := range obj.(*appsv1.ReplicaSetList).Items {
		if metav1.IsControlledBy(&rs, d) {
			out = append(out, rs)
		}
	}
	return out, nil
}

// replicaSet writes d's ReplicaSet at revision rev with want ready
// replicas: cur again, or a new one.
func (k *fakeKube) replicaSet(d *appsv1.Deployment, cur *appsv1.ReplicaSet, rev int64, want int32) (*appsv1.ReplicaSet, error) {
	t := k.cs.Tracker()
	gvr := appsv1.SchemeGroupVersion.WithResource("replicasets")
	yes := true
	rs := cur
	if rs == nil {
		hash := fmt.Sprintf("%s-%d", d.Name, rev)
		tmpl := d.Spec.Template.DeepCopy()
		if tmpl.Labels == nil {
			tmpl.Labels = map[string]string{}
		}
		tmpl.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = strconv.FormatInt(rev, 10)
		rs = &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: hash, Namespace: d.Namespace, UID: types.UID("uid-" + hash),
				Labels: tmpl.Labels, CreationTimestamp: metav1.Now(),
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: &yes}}},
			Spec: appsv1.ReplicaSetSpec{Template: *tmpl},
		}
		if err := t.Create(gvr, rs, d.Namespace); err != nil {
			return nil, err
		}
	}
	rs = rs.DeepCopy()
	rs.Annotations = maps.Clone(d.Annotations) // as the controller copies them
	rs.Annotations[deploy.AnnotationRevision] = strconv.FormatInt(rev, 10)
	rs.Spec.Replicas = &want
	rs.Status = appsv1.ReplicaSetStatus{Replicas: want}
	if !k.crashes(d) {
		rs.Status.ReadyReplicas, rs.Status.AvailableReplicas = want, want
	}
	return rs, t.Update(gvr, rs, d.Namespace)
}

// replacePods deletes the pods of other ReplicaSets of d and gives rs
// want pods, ready or crash-looping.
func (k *fakeKube) replacePods(d *appsv1.Deployment, rs *appsv1.ReplicaSet, want int32, crash bool) error {
	t := k.cs.Tracker()
	gvr := corev1.SchemeGroupVersion.WithResource("pods")
	obj, err := t.List(gvr, corev1.SchemeGroupVersion.WithKind("Pod"), d.Namespace)
	if err != nil {
		return err
	}
	for _, p := range obj.(*corev1.PodList).Items {
		if ref := metav1.GetControllerOf(&p); ref != nil && ref.Kind == "ReplicaSet" && p.Labels["app.kubernetes.io/instance"] == d.Labels["app.kubernetes.io/instance"] {
			if err := t.Delete(gvr, d.Namespace, p.Name); err != nil {
				return err
			}
		}
	}
	for i := range want {
		if err := t.Create(gvr, pod(rs, i, crash), d.Namespace); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return nil
}

// pod is the i-th pod of rs: running and ready, or crash-looping.
func pod(rs *appsv1.ReplicaSet, i int32, crash bool) *corev1.Pod {
	yes := true
	name := fmt.Sprintf("%s-%d", rs.Name, i)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: rs.Namespace, UID: types.UID("uid-" + name),
			Labels: rs.Spec.Template.Labels, CreationTimestamp: metav1.Now(),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &yes}}},
		Spec: rs.Spec.Template.Spec,
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, {Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	cs := corev1.ContainerStatus{Name: rs.Spec.Template.Spec.Containers[0].Name, Ready: true,
		Image: rs.Spec.Template.Spec.Containers[0].Image, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	if crash {
		p.Status.Conditions[1].Status = corev1.ConditionFalse
		cs.Ready, cs.RestartCount = false, 3
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
		cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
	return p
}

// run makes Deployment name in ns run digest as version, healthy, as
// deployed by bob at when.
func (k *fakeKube) run(t *testing.T, ns, name, version, digest string, when time.Time) {
	t.Helper()
	one := int32(1)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name), Generation: 1,
			Annotations: map[string]string{
				deploy.AnnotationVersion: version, deploy.AnnotationDigest: digest, deploy.AnnotationRevision: "1",
				deploy.AnnotationBy: "bob", deploy.AnnotationAt: when.UTC().Format(time.RFC3339),
			}},
		Spec: appsv1.DeploymentSpec{Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.test/hello@" + digest}}}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1},
	}
	if err := k.cs.Tracker().Add(d); err != nil {
		t.Fatal(err)
	}
}
