#!/usr/bin/env bash
# make demo: walks examples/hello-go through Slipway on local defaults.
#   hack/demo.sh        run the demo (re-running it does nothing new)
#   hack/demo.sh down   stop what it started
# The example is copied to $SLIPWAY_DEMO_DIR (default .demo/) as a git
# repository of its own, so the demo never tags this repository.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=${SLIPWAY_DEMO_DIR:-$root/.demo}
slipway=$root/bin/slipway
reg=$root/hack/testenv/registry.sh
# The demo's registries keep their data with the demo, so removing .demo/
# starts everything afresh.
export SLIPWAY_TESTENV=$work/testenv

k8s=$root/hack/testenv/k8s.sh

if [ "${1:-}" = down ]; then
  "$reg" stop 5000 5001
  "$k8s" stop
  exit 0
fi

if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
  step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
else
  step() { printf '\n== %s\n' "$*" >&2; }
fi

"$root/hack/install-deps.sh" git curl
step "local registries: dev on 127.0.0.1:5000, rc on 127.0.0.1:5001"
"$reg" start 5000 5001

app=$work/hello-go
if [ ! -d "$app/.git" ]; then
  step "a fresh copy of examples/hello-go, as its own git repository"
  mkdir -p "$work"
  cp -r "$root/examples/hello-go" "$app"
  git -C "$app" init -q -b main
  git -C "$app" add -A
  git -C "$app" -c user.name=Demo -c user.email=demo@localhost commit -q -m "feat: hello service"
fi
cd "$app"

step "slipway config check"
"$slipway" config check

step "slipway release   (tags v0.1.0; on a re-run: already released)"
"$slipway" release

step "slipway version"
version=$("$slipway" version)
echo "$version"

step "compile the service for each platform (the team's own build: make dist)"
make -s dist VERSION="$version"

step "slipway build   (daemonless, reproducible; on a re-run: up to date)"
"$slipway" build

step "slipway push dev"
"$slipway" push dev

step "a local Kubernetes control plane (context slipway-local; built once, then cached)"
eval "$("$k8s" start)"
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

cat >&2 <<'TXT'

The cluster is simulated (kwok): pods are scheduled and turn Ready, but no
container runs, so there is no traffic to send to the service. The
Deployments, ReplicaSets, Services and Ingresses above are real API objects.
TXT

cat >&2 <<'TXT'

Done. Run `make demo` again: every step says it is up to date.
`make demo-down` stops the registries and the control plane.
TXT
