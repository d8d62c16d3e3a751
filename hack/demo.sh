#!/usr/bin/env bash
# make demo: walks examples/hello-go through Slipway on local defaults.
#   hack/demo.sh        run the demo (re-running it does nothing new)
#   hack/demo.sh deps   build what the demo's cluster needs, when missing
#                       (make demo-deps; the demo runs it in the background)
#   hack/demo.sh down   stop what it started
# The example is copied to $SLIPWAY_DEMO_DIR (default .demo/) as a git
# repository of its own, so the demo never tags this repository.
# As root the app runs on a real node (hack/testenv/node.sh: containerd,
# kubelet, kube-proxy in a network namespace with no route out) and the demo
# ends by asking it, through its Service, in dev and in prod. Otherwise, or
# with SLIPWAY_DEMO_NODE=0, the cluster is simulated (kwok): pods turn Ready
# but no container runs. As root kwok is neither built nor started.
#
# The cluster's binaries take minutes to build the first time, and the
# demo's first steps (bin/slipway, the registries, release, image, push) need
# no cluster: the demo builds them in the background meanwhile (log in
# $SLIPWAY_DEMO_DIR/deps.log) and waits for them before the first deploy; if
# that build fails, so does the demo, with the log's last lines.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=${SLIPWAY_DEMO_DIR:-$root/.demo}
slipway=$root/bin/slipway
reg=$root/hack/testenv/registry.sh
# The demo's registries keep their data with the demo, so removing .demo/
# starts everything afresh.
export SLIPWAY_TESTENV=$work/testenv

k8s=$root/hack/testenv/k8s.sh
node=$root/hack/testenv/node.sh
real_node=0
if [ "$(id -u)" -eq 0 ] && [ "${SLIPWAY_DEMO_NODE:-1}" != 0 ]; then real_node=1; fi
# The real node runs the pods: the control plane needs no simulated nodes.
if [ "$real_node" = 1 ]; then export SLIPWAY_KWOK=0; fi
# The node pulls from both registries: dev's holds its pause image too.
export SLIPWAY_NODE_REGISTRY_PORT=5000 SLIPWAY_NODE_PULL_PORTS=5001

if [ "${1:-}" = down ]; then
  if [ -d "$SLIPWAY_TESTENV/node" ]; then "$node" stop; fi
  "$reg" stop 5000 5001
  "$k8s" stop
  exit 0
fi

if [ "${1:-}" = deps ]; then
  if [ "$real_node" = 1 ]; then
    # Its Debian packages, then the control plane's binaries with kubelet
    # and kube-proxy (one go build), containerd and the pause image.
    "$node" install
  else
    "$k8s" install
  fi
  exit 0
fi

# shellcheck source=hack/lib/demo.sh
source "$root/hack/lib/demo.sh"

"$root/hack/install-deps.sh" git curl
mkdir -p "$work"
start_deps "the cluster's binaries" demo-deps

step "bin/slipway (make build)"
make -C "$root" --no-print-directory build

step "local registries: dev on 127.0.0.1:5000, rc on 127.0.0.1:5001"
"$reg" start 5000 5001

app=$work/hello-go
if [ ! -d "$app/.git" ]; then
  step "a fresh copy of examples/hello-go, as its own git repository"
  mkdir -p "$work"
  cp -r "$root/examples/hello-go" "$app"
  if [ "$real_node" = 0 ]; then
    # prod's HTTP check asks the new pods through the API server: kwok's
    # pods run no container to answer it.
    sed -i '/^    checks: \[{http: /d' "$app/slipway.yaml"
    echo "(kwok: prod's HTTP check is left out of the copy: no container runs to answer it)" >&2
  fi
  commit_app "$app"
fi
cd "$app"

ship_to_dev

wait_deps
if [ "$real_node" = 1 ]; then
  step "a local Kubernetes control plane and a real node (context slipway-local)"
  eval "$("$k8s" start)"
  "$node" start >/dev/null
else
  step "a local Kubernetes control plane (context slipway-local)"
  eval "$("$k8s" start)"
fi
export KUBECONFIG

step "slipway deploy dev   (waits for a verdict; on a re-run: already runs)"
"$slipway" deploy dev

step "slipway promote dev rc   (by digest; on a re-run: already promoted)"
"$slipway" promote dev rc

for env in showcase canary prod; do
  step "slipway deploy $env"
  "$slipway" deploy "$env"
done

step "slipway status"
"$slipway" status

if [ "$real_node" = 1 ]; then
  kubectl="$("$k8s" bin)/kubectl"
  for env in dev prod; do
    # The example's namespaces (examples/hello-go/slipway.yaml).
    case $env in dev) ns=hello-dev ;; prod) ns=hello ;; esac
    addr=$("$kubectl" -n "$ns" get svc hello -o jsonpath='{.spec.clusterIP}:{.spec.ports[0].port}')
    step "ask hello in $env through its Service (ClusterIP $addr, by kube-proxy on the real node)"
    answer=""
    for _ in $(seq 1 50); do
      answer=$(curl -fsS --max-time 2 "http://$addr/" 2>/dev/null) && break
      sleep 0.2
    done
    [ -n "$answer" ] || { echo "hello in $env did not answer on $addr" >&2; exit 1; }
    echo "$env: $answer"
  done
else
  cat >&2 <<'TXT'

The cluster is simulated (kwok): pods are scheduled and turn Ready, but no
container runs, so there is no traffic to send to the service. The
Deployments, ReplicaSets, Services and Ingresses above are real API objects.
Run the demo as root for a real node, where the app answers.
TXT
fi

step "slipway status --all --html   (every app Slipway deployed in the cluster, no project needed; docs/fleet.md)"
"$slipway" status --all --html "$work/fleet.html"

cat >&2 <<'TXT'

Done. Run `make demo` again: every step says it is up to date.
`make demo-down` stops the registries, the node and the control plane.
TXT
echo "The fleet page: $work/fleet.html"
