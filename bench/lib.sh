# Shared helpers for the benchmarks: timing, medians, tools.
# shellcheck shell=bash
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GOBIN=$root/bin PATH=$root/bin:$PATH
CRANE_VERSION=${CRANE_VERSION:-v0.22.1}

now() { date +%s%N; }
# secs START END: elapsed seconds with millisecond precision.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
# median of the arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# timed VAR CMD...: runs CMD quietly and appends its seconds to array VAR.
# A failing command is timed too: failing fast is what some runs measure.
timed() { local -n _out=$1; shift; local a b; a=$(now); "$@" >/dev/null 2>&1 || true; b=$(now); _out+=("$(secs "$a" "$b")"); }

need_crane() { [ -x "$root/bin/crane" ] || go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"; }
need_slipway() { (cd "$root" && CGO_ENABLED=0 go build -trimpath -o bin/slipway ./cmd/slipway); }

# real_node_env NAME BASE: the setting of a benchmark on the real node (as
# root): a work directory ($work), the control plane on ports BASE443,
# BASE379 and so on (each benchmark its own BASE, apart from the tests'),
# no simulated nodes, the node's pull port BASE070 (or $PORT), and $k8s
# and $node; the caller traps their stop.
real_node_env() {
  [ "$(id -u)" -eq 0 ] || { echo "bench/$1.sh: the real node needs root" >&2; exit 1; }
  work=$(mktemp -d /tmp/slipway-bench.XXXXXX)
  export SLIPWAY_TESTENV=$work/testenv SLIPWAY_NODES=0 SLIPWAY_NODE_REGISTRY_PORT=${PORT:-${2}070}
  export SLIPWAY_APISERVER_PORT=${2}443 SLIPWAY_ETCD_PORT=${2}379 SLIPWAY_ETCD_PEER_PORT=${2}380 \
    SLIPWAY_KCM_PORT=${2}457 SLIPWAY_SCHEDULER_PORT=${2}459 SLIPWAY_KWOK_PORT=${2}250
  k8s=$root/hack/testenv/k8s.sh
  node=$root/hack/testenv/node.sh
}

# real_node_up: bin/slipway, then the control plane and the real node of
# real_node_env started (KUBECONFIG exported), and $reg, the node's
# registry.
real_node_up() {
  need_slipway
  "$node" install >/dev/null
  eval "$("$k8s" start 2>/dev/null)"
  export KUBECONFIG
  "$node" start >/dev/null 2>&1
  reg=127.0.0.1:$SLIPWAY_NODE_REGISTRY_PORT
}

# hello_project DIR REGISTRY: examples/hello-go in DIR, its readiness probe
# every second rather than every 10 (whether a pod's first probe beats its
# listen is a race, and a lost one costs a whole period: with 1s the
# medians measure the rollouts themselves), and a slipway.yaml with its
# image and the registry local (REGISTRY/bench), for the caller to add the
# environments and deploy settings to.
hello_project() {
  local dir=$1 reg=$2 arch
  arch=$(go env GOARCH)
  mkdir -p "$dir"
  cp "$root"/examples/hello-go/{main.go,go.mod,Makefile,pod.yml} "$dir/"
  sed -i 's|^        httpGet: {path: /healthz, port: 8080}$|&\n        periodSeconds: 1|' "$dir/pod.yml"
  grep -q 'periodSeconds: 1' "$dir/pod.yml" || { echo "bench: could not set the probe period" >&2; exit 1; }
  cat >"$dir/slipway.yaml" <<YAML
apiVersion: slipway/v1
app: hello
image:
  base: scratch
  platforms: [linux/$arch]
  layers: [{from: "dist/{{.OS}}_{{.Arch}}/hello", to: /app/hello, mode: "0755"}]
  entrypoint: [/app/hello]
  ports: [8080]
registries: {local: {url: $reg/bench, insecure: true}}
YAML
}

# hello_repo DIR: the hello project in DIR (hello_project, with its
# environments appended) made a git repository, and the current directory.
hello_repo() {
  printf '.slipway/\ndist/\n' >"$1/.gitignore"
  cd "$1" || exit 1
  git init -q -b main
}

# new_version MSG: in the hello project, a new commit, version and digest,
# compiled for this machine's architecture and pushed to registry local.
new_version() {
  git add -A && git -c user.name=b -c user.email=b@localhost commit -q --allow-empty -m "fix: $1"
  slipway release && make -s dist PLATFORMS="linux/$(go env GOARCH)" VERSION="$(slipway version)" &&
    slipway build && slipway push local
} >/dev/null 2>&1
