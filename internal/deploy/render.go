package deploy

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/slipwayhq/slipway/internal/config"
)

// RenderInput is everything a rendering depends on. Render is a pure
// function of it.
type RenderInput struct {
	Project *config.Project
	Env     config.Environment
	Pod     PodTemplate
	// Image is the reference by digest, REPO@sha256:...
	Image   string
	Version string
	Commit  string
	// ImageUser, when known, is the user the image's config runs as; a root
	// one under runAsNonRoot is a refusal (the kubelet would refuse it).
	ImageUser *string
	// PullSecret, when set, is a .dockerconfigjson document for an image
	// pull secret.
	PullSecret []byte
}

// Manifests are the objects of one environment, in the order they are
// applied.
type Manifests struct {
	Namespace  *corev1.Namespace // nil when the namespace is not Slipway's to create
	Secret     *corev1.Secret
	Deployment *appsv1.Deployment
	// Budget is the PodDisruptionBudget of environments of 2 or more
	// replicas; nil otherwise (and then Apply removes Slipway's old one).
	Budget  *policyv1.PodDisruptionBudget
	Service *corev1.Service
	Ingress *networkingv1.Ingress
	// CanaryService and CanaryIngress send canary.weight percent of the
	// ingress traffic to a canary (NGINX canary annotations).
	CanaryService *corev1.Service
	CanaryIngress *networkingv1.Ingress
	// Warnings are things to look at that do not stop a deploy.
	Warnings []string
	// Refusals are why the rendered pods would not start; a deploy stops
	// on them (ErrWouldNotStart), a dry run shows them as warnings.
	Refusals []string
}

// Objects lists the manifests in dependency order: namespace, secret,
// deployment, disruption budget, service, ingress, then the canary's
// service and ingress.
func (m Manifests) Objects() []runtime.Object {
	var out []runtime.Object
	for _, mf := range m.manifests() {
		out = append(out, mf.obj)
	}
	return out
}

// YAML renders the manifests as one multi-document YAML stream, with
// secret values redacted: what is printed never holds a credential.
func (m Manifests) YAML() ([]byte, error) {
	var b strings.Builder
	for i, o := range m.Objects() {
		y, err := shown(o)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return []byte(b.String()), nil
}

func redacted(s *corev1.Secret) *corev1.Secret {
	c := s.DeepCopy()
	c.StringData = map[string]string{}
	for k := range c.Data {
		c.StringData[k] = "REDACTED"
	}
	c.Data = nil
	return c
}

// Name is the Deployment's name in an environment: the app, or APP-canary
// for a canary environment.
func Name(p *config.Project, env config.Environment) string {
	if env.CanaryOf != "" {
		return p.App + "-canary"
	}
	return p.App
}

// serviceEnv is the environment whose Service selects env's pods: its own,
// or for a canary the environment it is a canary of.
func serviceEnv(env config.Environment) string {
	if env.CanaryOf != "" {
		return env.CanaryOf
	}
	return env.Name
}

// Production reports whether env serves production traffic: it is called
// prod or production, or another environment is its canary.
func Production(p *config.Project, env config.Environment) bool {
	if env.Name == "prod" || env.Name == "production" {
		return true
	}
	for _, e := range p.Environments {
		if e.CanaryOf == env.Name {
			return true
		}
	}
	return false
}

// Render turns an environment, pod.yml and an image digest into manifests.
func Render(in RenderInput) (Manifests, error) {
	p, env := in.Project, in.Env
	if !strings.Contains(in.Image, "@sha256:") {
		return Manifests{}, fmt.Errorf("rendering %s: the image must be a reference by digest, got %q", env.Name, in.Image)
	}
	r := newRendering(in)
	var m Manifests
	if env.CreateNamespace == nil || *env.CreateNamespace {
		m.Namespace = newNamespace(env.Namespace)
	}

	spec, warnings, err := podSpec(in)
	if err != nil {
		return Manifests{}, err
	}
	m.Warnings = append(warnings, requestsWarnings(spec, p.Deploy.Pod)...)
	m.Refusals = rootRefusals(in, spec)
	if in.PullSecret != nil {
		m.Secret = r.pullSecret(&spec)
	}
	m.Deployment = r.deployment(spec)
	if *m.Deployment.Spec.Replicas >= 2 {
		m.Budget = r.spread(m.Deployment)
	}
	if env.CanaryOf == "" {
		m.Service = r.service(map[string]string{LabelName: p.App, LabelService: env.Name})
		if env.Ingress != nil {
			m.Ingress = ingress(r.name, r.meta(r.name), env.Ingress)
		}
		return m, nil
	}
	// A canary takes its share of the target's traffic through the target's
	// Service, as its share of ready pods; with canary.weight, an NGINX
	// canary Ingress on the target's host sends that percentage to it.
	target, _ := p.Environments.Get(env.CanaryOf)
	if env.Canary != nil && env.Canary.Weight > 0 {
		if target.Ingress == nil {
			return Manifests{}, fmt.Errorf("rendering %s: canary.weight needs an ingress on %s to share", env.Name, target.Name)
		}
		m.CanaryService = r.service(r.selector)
		m.CanaryIngress = ingress(r.name, r.meta(r.name), target.Ingress)
		m.CanaryIngress.Spec.TLS = nil // the target's Ingress serves TLS for the host
		m.CanaryIngress.Annotations = map[string]string{
			"nginx.ingress.kubernetes.io/canary":        "true",
			"nginx.ingress.kubernetes.io/canary-weight": fmt.Sprint(env.Canary.Weight),
		}
	}
	return m, nil
}

// newNamespace is the Namespace called name, as Slipway makes it.
func newNamespace(name string) *corev1.Namespace {
	return &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// rendering is what the manifests of one Render share: the Deployment's
// name, its selector and the labels on every object.
type rendering struct {
	in       RenderInput
	name     string
	selector map[string]string
	labels   map[string]string
}

func newRendering(in RenderInput) rendering {
	p, env := in.Project, in.Env
	r := rendering{
		in:       in,
		name:     Name(p, env),
		selector: map[string]string{LabelName: p.App, LabelEnv: env.Name},
		labels:   map[string]string{LabelName: p.App, LabelEnv: env.Name, LabelService: serviceEnv(env), LabelManagedBy: ManagedBy},
	}
	if in.Version != "" {
		r.labels[LabelVersion] = labelValue(in.Version)
	}
	return r
}

func (r rendering) meta(n string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: n, Namespace: r.in.Env.Namespace, Labels: maps.Clone(r.labels)}
}

// rootRefusals are the containers of Slipway's image that would run as
// root under runAsNonRoot, when the image's user is known.
func rootRefusals(in RenderInput, spec corev1.PodSpec) []string {
	if in.ImageUser == nil {
		return nil
	}
	var refusals []string
	for _, c := range spec.Containers {
		if c.Image == in.Image {
			if msg := rootProblem(spec, c, *in.ImageUser, in.Project.Deploy.Pod); msg != "" {
				refusals = append(refusals, msg)
			}
		}
	}
	return refusals
}

// pullSecret is the image pull secret, added to spec's imagePullSecrets
// unless pod.yml names it already.
func (r rendering) pullSecret(spec *corev1.PodSpec) *corev1.Secret {
	secret := r.name + "-pull"
	if !hasPullSecret(*spec, secret) {
		spec.ImagePullSecrets = append(spec.ImagePullSecrets, corev1.LocalObjectReference{Name: secret})
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: r.meta(secret),
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: r.in.PullSecret},
	}
}

func (r rendering) deployment(spec corev1.PodSpec) *appsv1.Deployment {
	in, p := r.in, r.in.Project
	podLabels := copyMap(in.Pod.Labels)
	maps.Copy(podLabels, r.labels)
	podAnnotations := copyMap(in.Pod.Annotations)
	maps.Copy(podAnnotations, map[string]string{AnnotationVersion: in.Version, AnnotationCommit: in.Commit, AnnotationDigest: DigestOf(in.Image)})
	replicas := int32(in.Env.ReplicaCount())
	deadline := int32(max(p.Deploy.Timeout.Seconds(), 1))
	maxUnavailable := intstr.FromInt32(0)
	maxSurge := intstr.Parse(string(cmp.Or(p.Deploy.Surge, config.DefaultSurge)))
	history := int32(10)
	dm := r.meta(r.name)
	dm.Annotations = map[string]string{
		AnnotationVersion: in.Version,
		AnnotationCommit:  in.Commit,
		AnnotationDigest:  DigestOf(in.Image),
		AnnotationImage:   in.Image,
		AnnotationCause:   fmt.Sprintf("slipway deploy %s %s", in.Env.Name, in.Version),
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: dm,
		Spec: appsv1.DeploymentSpec{
			Replicas:                &replicas,
			MinReadySeconds:         int32(p.Deploy.Stability.Seconds()),
			Selector:                &metav1.LabelSelector{MatchLabels: r.selector},
			ProgressDeadlineSeconds: &deadline,
			RevisionHistoryLimit:    &history,
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &maxUnavailable, MaxSurge: &maxSurge},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: podAnnotations},
				Spec:       spec,
			},
		},
	}
}

// spread keeps 2 or more replicas apart: it spreads d's pods over nodes
// unless pod.yml spreads them itself or deploy.spread is false, and
// returns their PodDisruptionBudget, nil when deploy.disruptionBudget is
// false.
func (r rendering) spread(d *appsv1.Deployment) *policyv1.PodDisruptionBudget {
	p := r.in.Project
	var budget *policyv1.PodDisruptionBudget
	if b := p.Deploy.DisruptionBudget; b == nil || *b {
		one := intstr.FromInt32(1)
		budget = &policyv1.PodDisruptionBudget{
			TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
			ObjectMeta: r.meta(r.name),
			Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one, Selector: &metav1.LabelSelector{MatchLabels: r.selector}},
		}
	}
	if sp := p.Deploy.Spread; (sp == nil || *sp) && len(d.Spec.Template.Spec.TopologySpreadConstraints) == 0 {
		d.Spec.Template.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector: &metav1.LabelSelector{MatchLabels: r.selector}, MatchLabelKeys: []string{appsv1.DefaultDeploymentUniqueLabelKey},
		}}
	}
	return budget
}

func (r rendering) service(selector map[string]string) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: r.meta(r.name),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selector,
			Ports: []corev1.ServicePort{{
				Name: "http", Port: 80, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(int32(r.in.Project.Deploy.Port)),
			}},
		},
	}
}

func ingress(service string, meta metav1.ObjectMeta, in *config.Ingress) *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: meta,
		Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{
				Host: in.Host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path: "/", PathType: &prefix,
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: service, Port: networkingv1.ServiceBackendPort{Name: "http"},
						}},
					}},
				}},
			}},
		},
	}
	if in.Class != "" {
		ing.Spec.IngressClassName = &in.Class
	}
	if in.TLS {
		secret := cmp.Or(in.Secret, service+"-tls")
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{in.Host}, SecretName: secret}}
		if in.Issuer != "" {
			ing.Annotations = map[string]string{"cert-manager.io/cluster-issuer": in.Issuer}
		}
	}
	return ing
}

// podSpec is pod.yml's spec with Slipway's image and defaults; each default
// applies only where pod.yml says nothing.
func podSpec(in RenderInput) (corev1.PodSpec, []string, error) {
	spec := *in.Pod.Spec.DeepCopy()
	p, env := in.Project, in.Env
	var warnings []string
	if len(spec.Containers) == 0 {
		spec.Containers = []corev1.Container{{Name: "app"}}
	}
	main := 0
	for i, c := range spec.Containers {
		if c.Name == "app" {
			main = i
		}
	}
	c := &spec.Containers[main]
	c.Name = cmp.Or(c.Name, "app")
	c.Image = in.Image
	if len(c.Ports) == 0 {
		c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: int32(p.Deploy.Port), Protocol: corev1.ProtocolTCP}}
	}
	if c.ReadinessProbe == nil {
		msg := fmt.Sprintf("container %q has no readinessProbe: pods take traffic before they are ready, so rollouts can drop requests; add one to %s", c.Name, p.Deploy.Pod)
		if Production(p, env) {
			return spec, nil, fmt.Errorf("rendering %s: %s (required for production environments)", env.Name, msg)
		}
		warnings = append(warnings, msg)
	}

	if jvm := p.Deploy.JVM; env.JVM != nil && *env.JVM || env.JVM == nil && jvm {
		warnings = append(warnings, jvmPreset(c)...)
		writableTmp(&spec, c)
	}

	warnings = append(warnings, drainDefaults(&spec, c, int64(p.Deploy.Drain.Seconds()))...)
	secureDefaults(&spec)
	return spec, warnings, nil
}

// drainDefaults keeps a rollout from dropping requests: the main
// container c sleeps for drain seconds before SIGTERM, and the grace
// period covers it; a grace period pod.yml sets too short is a warning.
func drainDefaults(spec *corev1.PodSpec, c *corev1.Container, drain int64) (warnings []string) {
	if drain > 0 {
		if c.Lifecycle == nil {
			c.Lifecycle = &corev1.Lifecycle{}
		}
		if c.Lifecycle.PreStop == nil {
			c.Lifecycle.PreStop = &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: drain}}
		}
	}
	grace := drain + 30
	switch {
	case spec.TerminationGracePeriodSeconds == nil:
		spec.TerminationGracePeriodSeconds = &grace
	case *spec.TerminationGracePeriodSeconds <= drain:
		warnings = append(warnings, fmt.Sprintf("terminationGracePeriodSeconds %d does not cover the %ds drain; pods are killed mid-drain", *spec.TerminationGracePeriodSeconds, drain))
	}
	return warnings
}

// secureDefaults sets what pod.yml leaves out to the secure choice: no
// service account token, non-root, the runtime's seccomp profile, and
// containers with a read-only root, no privilege escalation, no
// capabilities, and their log's tail as termination message on failure.
func secureDefaults(spec *corev1.PodSpec) {
	if spec.AutomountServiceAccountToken == nil {
		spec.AutomountServiceAccountToken = new(false)
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	psc := spec.SecurityContext
	if psc.RunAsNonRoot == nil {
		psc.RunAsNonRoot = new(true)
	}
	if psc.SeccompProfile == nil {
		psc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	for i := range spec.Containers {
		sc := spec.Containers[i].SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
			spec.Containers[i].SecurityContext = sc
		}
		if sc.ReadOnlyRootFilesystem == nil {
			sc.ReadOnlyRootFilesystem = new(true)
		}
		if sc.AllowPrivilegeEscalation == nil {
			sc.AllowPrivilegeEscalation = new(false)
		}
		if sc.Capabilities == nil {
			sc.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
		}
		// A container that fails without writing a termination message
		// leaves the tail of its log there: the verdict of a crash shows it.
		if spec.Containers[i].TerminationMessagePolicy == "" {
			spec.Containers[i].TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
		}
	}
}

func hasPullSecret(spec corev1.PodSpec, name string) bool {
	for _, s := range spec.ImagePullSecrets {
		if s.Name == name {
			return true
		}
	}
	return false
}

// DigestOf is the digest (sha256:...) of an image reference by digest,
// "" for one without.
func DigestOf(ref string) string {
	_, d, _ := strings.Cut(ref, "@")
	return d
}

// labelValue makes a version fit a label value: at most 63 characters of
// [A-Za-z0-9._-], starting and ending with an alphanumeric.
func labelValue(v string) string {
	b := []byte(v)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	s := string(b)
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "._-")
}

// copyMap is maps.Clone that never returns nil: callers add to the copy.
func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	maps.Copy(out, m)
	return out
}

// jvmTmpSize bounds the JVM preset's /tmp.
var jvmTmpSize = resource.MustParse("256Mi")

// writableTmp gives container c a writable /tmp, an emptyDir of at most
// jvmTmpSize, unless pod.yml mounts something there: the root filesystem is
// read-only, and the JVM writes to /tmp (hsperfdata, native libraries
// unpacked from jars, JIT logs) or fails to start.
func writableTmp(spec *corev1.PodSpec, c *corev1.Container) {
	for _, m := range c.VolumeMounts {
		if path.Clean(m.MountPath) == "/tmp" {
			return
		}
	}
	name := "tmp"
	for _, v := range spec.Volumes {
		if v.Name == name {
			name = "slipway-tmp"
		}
	}
	size := jvmTmpSize
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &size}}})
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: "/tmp"})
}

// jvmPreset sizes a JVM for its container: a heap of half the memory limit
// (-Xmx in JAVA_TOOL_OPTIONS, the rest is metaspace, threads and buffers),
// pages touched up front, and no CPU limit, because a CPU limit throttles
// the garbage collector's threads and stretches pauses. pod.yml's own
// JAVA_TOOL_OPTIONS is kept as it is.
func jvmPreset(c *corev1.Container) []string {
	var warnings []string
	if cpu, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		delete(c.Resources.Limits, corev1.ResourceCPU)
		warnings = append(warnings, fmt.Sprintf("jvm preset: removed the CPU limit %s of container %q (CPU limits throttle garbage collection); set a CPU request instead", cpu.String(), c.Name))
	}
	for _, e := range c.Env {
		if e.Name == "JAVA_TOOL_OPTIONS" {
			return append(warnings, fmt.Sprintf("jvm preset: container %q sets JAVA_TOOL_OPTIONS itself, so the heap is left as it says", c.Name))
		}
	}
	mem, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		return append(warnings, fmt.Sprintf("jvm preset: container %q has no memory limit to size the heap from; add resources.limits.memory", c.Name))
	}
	heap := mem.Value() / 2 / (1 << 20)
	c.Env = append(c.Env, corev1.EnvVar{Name: "JAVA_TOOL_OPTIONS", Value: fmt.Sprintf("-Xmx%dm -XX:+AlwaysPreTouch", heap)})
	return warnings
}
