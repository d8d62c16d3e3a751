package config

// APIVersion is the only configuration version this Slipway reads.
const APIVersion = "slipway/v1"

// File names Slipway looks for in a project's root.
const (
	ProjectFile = "slipway.yaml"
	CIFile      = "ci.yaml"
	PodFile     = "pod.yml"
)

// Project is slipway.yaml: one app, how to version, build and ship it.
type Project struct {
	APIVersion   string       `yaml:"apiVersion" required:"true" doc:"configuration version; must be slipway/v1"`
	App          string       `yaml:"app" required:"true" doc:"application name: a DNS label used for the image repository and Kubernetes objects"`
	Release      Release      `yaml:"release" doc:"how versions are computed from git tags"`
	Image        Image        `yaml:"image" doc:"how the container image is built"`
	Registries   Registries   `yaml:"registries" doc:"named registries images are pushed to and pulled from, named by DNS labels; a string is shorthand for {url: ...}"`
	Environments Environments `yaml:"environments" doc:"named deployment targets"`
	Deploy       Deploy       `yaml:"deploy" doc:"how the app is deployed"`
	Signing      *Signing     `yaml:"signing" doc:"sign every pushed image with a cosign key; see docs/supply-chain.md"`
	Notify       []Notify     `yaml:"notify" doc:"targets told the verdict of every deploy: a signed webhook, Slack, GitHub or GitLab commit statuses; see docs/notifications.md"`

	// Dir is the directory slipway.yaml was loaded from.
	Dir string `yaml:"-"`
	// Source locates fields of the loaded file for later, position-aware errors.
	Source *Source `yaml:"-"`
}

// Release configures versioning from git tags.
type Release struct {
	TagPrefix      string   `yaml:"tagPrefix" doc:"prefix of release tags (default v); billing/v for a monorepo module"`
	Bump           string   `yaml:"bump" enum:"auto,major,minor,patch" doc:"default bump: auto reads conventional commits since the last release (default auto)"`
	DefaultBump    string   `yaml:"defaultBump" enum:"patch,minor,major" doc:"bump used by auto when no commit is a feat, fix or breaking change (default patch)"`
	SnapshotSuffix string   `yaml:"snapshotSuffix" doc:"pre-release suffix of versions between releases (default SNAPSHOT)"`
	Initial        string   `yaml:"initial" doc:"first version when no release tag exists (default 0.1.0)"`
	Paths          []string `yaml:"paths" doc:"monorepo: only commits touching these paths (relative to the repository root) count"`
	Remote         string   `yaml:"remote" doc:"git remote release --push pushes the tag to (default origin)"`
}

// Image describes a daemonless image build.
type Image struct {
	Base         string            `yaml:"base" doc:"base image: scratch or an image reference (default scratch)"`
	Platforms    []string          `yaml:"platforms" doc:"platforms to build, as os/arch[/variant] (default linux/amd64)"`
	Layers       []Layer           `yaml:"layers" doc:"files and directories copied into the image, one layer each"`
	Exclude      []string          `yaml:"exclude" doc:"glob patterns left out of every layer, added to .slipwayignore"`
	Entrypoint   []string          `yaml:"entrypoint" doc:"image entrypoint"`
	Cmd          []string          `yaml:"cmd" doc:"image default arguments"`
	Env          map[string]string `yaml:"env" doc:"environment variables"`
	Workdir      string            `yaml:"workdir" doc:"working directory"`
	User         string            `yaml:"user" doc:"user (uid[:gid] or name) the process runs as (default 65532)"`
	Ports        []int             `yaml:"ports" doc:"exposed TCP ports"`
	Labels       map[string]string `yaml:"labels" doc:"image labels, added to the OCI ones Slipway fills from git"`
	AllowSecrets []string          `yaml:"allowSecrets" doc:"patterns (as in .slipwayignore) of files that look like secrets (.env*, *.pem, *.key, SSH keys, .npmrc, .netrc, Docker and Kubernetes client configs) but belong in the image; others like them are left out with a warning"`
	Dockerfile   string            `yaml:"dockerfile" doc:"build with docker buildx or buildah from this Dockerfile instead: a file inside the project, as layer sources are"`
}

// Layer copies a file or directory into the image.
type Layer struct {
	From    string   `yaml:"from" required:"true" doc:"source path relative to the project; may use {{.OS}}, {{.Arch}} and {{.Variant}}"`
	To      string   `yaml:"to" required:"true" doc:"absolute destination path in the image"`
	Mode    string   `yaml:"mode" doc:"octal file mode forced on every file, e.g. 0755 (default: the file's own)"`
	Exclude []string `yaml:"exclude" doc:"glob patterns left out of this layer"`
}

// Registry is a container registry repository prefix.
type Registry struct {
	URL      string `yaml:"url" required:"true" doc:"registry host and repository prefix, e.g. registry.example.com/team"`
	Insecure bool   `yaml:"insecure" doc:"allow plain HTTP and unverified TLS (local registries only)"`
	// PullSecret makes deploy create an image pull secret.
	PullSecret bool   `yaml:"pullSecret" doc:"deploy an image pull secret made from SLIPWAY_REGISTRY_<NAME>_USERNAME and _PASSWORD to environments pulling from this registry"`
	CA         string `yaml:"ca" doc:"PEM file of extra certificate authorities to trust for this registry (at most 1 MiB): an absolute path, or one relative to slipway.yaml that stays inside the project; read only when Slipway talks to this registry"`
	// Name is the key under registries.
	Name string `yaml:"-"`
}

// Environment is a deployment target.
type Environment struct {
	Registry        string       `yaml:"registry" required:"true" doc:"name of the registry this environment pulls from"`
	Context         string       `yaml:"context" doc:"kubeconfig context (default: the current context)"`
	Kubeconfig      string       `yaml:"kubeconfig" doc:"kubeconfig file: an absolute path, or one relative to slipway.yaml that stays inside the project (default: $KUBECONFIG or ~/.kube/config)"`
	Namespace       string       `yaml:"namespace" doc:"Kubernetes namespace (default: the app name)"`
	Replicas        *int         `yaml:"replicas" doc:"desired pods (default 1)"`
	Ingress         *Ingress     `yaml:"ingress" doc:"expose the app through an Ingress"`
	Requires        *Requirement `yaml:"requires" doc:"an environment that must run the same digest healthy first; a string is shorthand for {env: ...}"`
	CanaryOf        string       `yaml:"canaryOf" doc:"run beside this environment's Deployment, behind its Service"`
	Canary          *Canary      `yaml:"canary" doc:"canary traffic settings"`
	CreateNamespace *bool        `yaml:"createNamespace" doc:"create the namespace when missing (default true)"`
	JVM             *bool        `yaml:"jvm" doc:"apply the JVM preset (heap from the memory limit, no CPU limit)"`
	Verify          *Verify      `yaml:"verify" doc:"deploy only images with a valid signature by this cosign public key (exit 3 otherwise)"`
	GitOps          *GitOps      `yaml:"gitops" doc:"deploy by a commit to an environment repository, which Flux or Argo CD applies, instead of applying to the cluster (see docs/gitops.md)"`
	Checks          []Check      `yaml:"checks" doc:"after-rollout checks, run after deploy.checks: the rollout succeeds only when they pass, and is rolled back when one fails (see docs/verification.md)"`
	Analysis        *Analysis    `yaml:"analysis" doc:"for a canary: Prometheus queries comparing its pods with those of the environment it is a canary of, for a window after its rollout; a failing one fails the canary's deploy, and a gate on the canary needs it passed (see docs/verification.md)"`
	// Name is the key under environments.
	Name string `yaml:"-"`
}

// Ingress exposes an environment on a host name.
type Ingress struct {
	Host   string `yaml:"host" required:"true" doc:"host name"`
	TLS    bool   `yaml:"tls" doc:"serve TLS"`
	Class  string `yaml:"class" doc:"ingress class name"`
	Secret string `yaml:"secret" doc:"TLS secret name (default APP-tls)"`
	Issuer string `yaml:"issuer" doc:"cert-manager cluster issuer that provides the TLS secret"`
}

// Requirement is a gate: another environment must run the digest first.
type Requirement struct {
	Env  string   `yaml:"env" required:"true" doc:"environment that must run the same digest healthy"`
	Soak Duration `yaml:"soak" doc:"how long it must have been healthy there, e.g. 30m"`
}

// Canary configures ingress-level canary traffic.
type Canary struct {
	Weight int `yaml:"weight" doc:"percent of ingress traffic sent to the canary (NGINX canary annotations)"`
}

// Deploy configures how the app is deployed.
type Deploy struct {
	Pod     string   `yaml:"pod" doc:"pod manifest whose metadata and spec become the pod template: a file inside the project, as layer sources are (default pod.yml)"`
	Port    int      `yaml:"port" doc:"container port the Service targets (default: the first image port, else 8080)"`
	Drain   Duration `yaml:"drain" doc:"preStop drain before SIGTERM (default 15s)"`
	Timeout Duration `yaml:"timeout" doc:"how long a rollout may take before it fails (default 5m)"`
	JVM     bool     `yaml:"jvm" doc:"apply the JVM preset in every environment: heap from the memory limit, no CPU limit (an environment's jvm overrides it)"`
	// Stability becomes the Deployment's minReadySeconds.
	// DisruptionBudget and Spread are on unless set to false.
	DisruptionBudget *bool    `yaml:"disruptionBudget" doc:"a PodDisruptionBudget (maxUnavailable 1) for environments of 2 or more replicas, so node drains take one pod at a time (default true)"`
	Spread           *bool    `yaml:"spread" doc:"a soft topology spread of 2 or more replicas across nodes (default true)"`
	Stability        Duration `yaml:"stability" doc:"how long a new pod must stay ready before it counts as available and old pods go (minReadySeconds; default 3s, 0s to turn off); shorter than timeout, as Kubernetes requires"`
	Surge            Surge    `yaml:"surge" doc:"how many pods a rollout may start above the replica count at once (maxSurge): a number such as 2, or a percentage of the replicas such as 100% (every new pod at once: the fastest rollout, for twice the pods while it lasts); default 25%, and never fewer than one pod; old pods go only as new ones become available"`
	Checks           []Check  `yaml:"checks" doc:"after-rollout checks of every environment, run before each environment's own checks (see docs/verification.md)"`
}
