#!/usr/bin/env bash
# make demo-gitops: takes examples/hello-go to dev and prod through Flux CD
# on the real node, in GitOps mode (docs/gitops.md).
#   hack/demo-gitops.sh        run the demo (re-running it does nothing new)
#   hack/demo-gitops.sh down   stop what it started (make demo-gitops-down)
# Needs root: the app runs on the real node (hack/testenv/node.sh), applied
# by Flux's source-controller and kustomize-controller (hack/testenv/flux.sh,
# kustomize-controller with --feature-gates=CancelHealthCheckOnNewRevision=true)
# from an environment repository that hack/testenv/githttp serves over smart
# HTTP with basic auth on 127.0.0.1:5012. dev and prod are GitOps
# environments of that one repository (envs/dev, envs/prod): `slipway deploy`
# commits the manifests there, nudges Flux, waits for Flux to apply that
# commit and judges the pods itself. The demo ends by asking the app through
# its Service in dev and in prod.
#
# Everything lives in $SLIPWAY_DEMO_GITOPS_DIR (default .demo-gitops/): the
# example's copy (its own git repository), the environment repository, the
# registries' data (dev on 127.0.0.1:5010, which holds the node's pause image,
# rc on 5011), the control plane (ports 19xxx, apart from make demo's) and
# Flux's state. One real node runs per machine: stop make demo's first
# (make demo-down). The cluster's binaries and Flux's controllers are built
# once and cached (make demo-deps flux-deps, in the background while the
# demo builds bin/slipway and the image; log in $SLIPWAY_DEMO_GITOPS_DIR/deps.log).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=${SLIPWAY_DEMO_GITOPS_DIR:-$root/.demo-gitops}
case $work in /*) ;; *) work=$PWD/$work ;; esac
slipway=$root/bin/slipway
reg=$root/hack/testenv/registry.sh
k8s=$root/hack/testenv/k8s.sh
node=$root/hack/testenv/node.sh
flux=$root/hack/testenv/flux.sh
export SLIPWAY_TESTENV=$work/testenv SLIPWAY_KWOK=0 SLIPWAY_NODES=0
export SLIPWAY_APISERVER_PORT=19443 SLIPWAY_ETCD_PORT=19379 SLIPWAY_ETCD_PEER_PORT=19380 \
  SLIPWAY_KCM_PORT=19457 SLIPWAY_SCHEDULER_PORT=19459 SLIPWAY_KWOK_PORT=19250
# The node pulls from both registries: dev's holds its pause image too.
export SLIPWAY_NODE_REGISTRY_PORT=5010 SLIPWAY_NODE_PULL_PORTS=5011
export FLUX_KC_ARGS=--feature-gates=CancelHealthCheckOnNewRevision=true FLUX_SC_ARGS=
git_addr=127.0.0.1:5012 git_user=demo
repo_url=http://$git_addr/environments.git
githttp=$work/bin/githttp

# The git server: started by this script, recorded by PID and command line,
# stopped only when both still match.
git_running() {
  local pid
  pid=$(cat "$work/githttp.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] &&
    cat "/proc/$pid/cmdline" 2>/dev/null | cmp -s - "$work/githttp.cmdline"
}
git_stop() {
  if git_running; then kill "$(cat "$work/githttp.pid")" 2>/dev/null || true; fi
  rm -f "$work/githttp.pid" "$work/githttp.cmdline"
}

if [ "${1:-}" = down ]; then
  git_stop
  "$flux" stop
  if [ -d "$SLIPWAY_TESTENV/node" ]; then "$node" stop; fi
  "$reg" stop 5010 5011
  "$k8s" stop
  exit 0
fi
[ $# -eq 0 ] || { echo "usage: $0 [down]" >&2; exit 2; }

if [ "$(id -u)" -ne 0 ]; then
  echo "make demo-gitops runs the app on a real node and needs root (make demo runs without it, on simulated nodes)" >&2
  exit 1
fi
# One real node per machine: it owns the pod and service CIDRs and the bridge.
if ip link show slw-host >/dev/null 2>&1 && ! "$node" status >/dev/null 2>&1; then
  echo "another real node runs on this machine (make demo's? then make demo-down); stop it first" >&2
  exit 1
fi

# shellcheck source=hack/lib/demo.sh
source "$root/hack/lib/demo.sh"

"$root/hack/install-deps.sh" git curl openssl
mkdir -p "$work/bin"
start_deps "the cluster's binaries and Flux's controllers" demo-deps flux-deps

step "bin/slipway (make build) and the git server (hack/testenv/githttp)"
make -C "$root" --no-print-directory build
(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$githttp" ./hack/testenv/githttp)

step "local registries: dev on 127.0.0.1:5010, rc on 127.0.0.1:5011"
"$reg" start 5010 5011

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
bare=$work/git/environments.git
if [ ! -d "$bare" ]; then
  step "the environment repository environments.git: envs/dev and envs/prod, empty"
  seed=$(mktemp -d)
  mkdir -p "$seed/envs/dev" "$seed/envs/prod"
  : >"$seed/envs/dev/.gitkeep"
  : >"$seed/envs/prod/.gitkeep"
  printf '# Environments of hello\n\nFlux applies envs/dev and envs/prod; `slipway deploy ENV` commits envs/ENV/hello.yaml.\n' >"$seed/README.md"
  git -C "$seed" init -q -b main
  git -C "$seed" add -A
  git -C "$seed" -c user.name=Demo -c user.email=demo@localhost commit -q -m "environments: dev and prod, empty"
  mkdir -p "$work/git"
  git init -q --bare -b main "$bare.tmp"
  git -C "$seed" push -q "$bare.tmp" main
  mv "$bare.tmp" "$bare"
  rm -rf "$seed"
fi
# The git server's password: made once, kept with the demo (never on a
# command line: githttp reads GITHTTP_PASS).
if [ ! -s "$work/git-pass" ]; then
  (umask 077 && openssl rand -hex 16 >"$work/git-pass")
fi
git_pass=$(cat "$work/git-pass")
if ! git_running; then
  step "the git server: $repo_url (smart HTTP, basic auth as $git_user)"
  rm -f "$work/githttp.addr"
  GITHTTP_PASS=$git_pass setsid "$githttp" -root "$work/git" -addr "$git_addr" -user "$git_user" \
    -addr-file "$work/githttp.addr" >/dev/null 2>"$work/githttp.log" </dev/null &
  echo $! >"$work/githttp.pid"
  for _ in $(seq 1 100); do [ -s "$work/githttp.addr" ] && break; sleep 0.05; done
  [ -s "$work/githttp.addr" ] || { echo "the git server did not start:" >&2; cat "$work/githttp.log" >&2; exit 1; }
  cat "/proc/$(cat "$work/githttp.pid")/cmdline" >"$work/githttp.cmdline"
fi
# slipway deploy pushes with these (docs/gitops.md, Credentials).
export SLIPWAY_GIT_USERNAME=$git_user SLIPWAY_GIT_PASSWORD=$git_pass

app=$work/hello-go
if [ ! -d "$app/.git" ]; then
  step "a fresh copy of examples/hello-go, as its own git repository, with dev and prod as GitOps environments"
  mkdir -p "$app"
  cp "$root"/examples/hello-go/{main.go,go.mod,Makefile,pod.yml} "$app/"
  # The example's slipway.yaml, with its registries on the demo's ports and
  # dev and prod applied by Flux; showcase and canary are left out (a GitOps
  # environment cannot be a canary yet), and so is ci.yaml, whose pipeline
  # deploys to them (generated CI for GitOps environments is not done yet).
  cat >"$app/slipway.yaml" <<YAML
# slipway.yaml: examples/hello-go's, with dev and prod as GitOps environments.
apiVersion: slipway/v1
app: hello
release:
  tagPrefix: v
  bump: auto
image:
  base: scratch
  platforms: [linux/amd64, linux/arm64]
  layers:
    - from: "dist/{{.OS}}_{{.Arch}}/hello"
      to: /app/hello
      mode: "0755"
  entrypoint: [/app/hello]
  ports: [8080]
registries:
  dev: {url: 127.0.0.1:5010/team, insecure: true}
  rc: {url: 127.0.0.1:5011/team, insecure: true}
environments:
  dev:
    registry: dev
    context: slipway-local
    namespace: hello-dev
    replicas: 1
    gitops: {repo: "$repo_url", branch: main, path: envs/dev, engine: flux}
  prod:
    registry: rc
    context: slipway-local
    namespace: hello
    replicas: 3
    requires: dev           # prod takes only what runs in dev
    gitops: {repo: "$repo_url", branch: main, path: envs/prod, engine: flux}
deploy:
  pod: pod.yml
  port: 8080
  drain: 5s
  timeout: 2m
YAML
  printf 'dist/\n.slipway/\n' >"$app/.gitignore"
  commit_app "$app"
fi
cd "$app"

ship_to_dev

wait_deps
step "a local Kubernetes control plane and a real node (context slipway-local)"
eval "$("$k8s" start)"
export KUBECONFIG
"$node" start >/dev/null
kubectl="$("$k8s" bin)/kubectl"

step "Flux CD: source-controller and kustomize-controller v1.9.6, with --feature-gates=CancelHealthCheckOnNewRevision=true"
"$flux" start >/dev/null

for env in dev prod; do
  step "slipway gitops bootstrap $env | kubectl apply -f -"
  "$slipway" gitops bootstrap "$env" | "$kubectl" apply -f -
  # The secret of the git server's credentials, which the objects name.
  "$kubectl" -n flux-system create secret generic "$env-git" --from-literal=username="$git_user" \
    --from-literal=password="$git_pass" --dry-run=client -o yaml | "$kubectl" apply -f - >/dev/null
  echo "GitRepository flux-system/$env reads with the Secret flux-system/$env-git (user $git_user)" >&2
done
"$kubectl" -n flux-system wait --for=condition=Ready --timeout=120s kustomization/dev kustomization/prod >/dev/null

step "slipway deploy dev   (commits envs/dev/hello.yaml, Flux applies it, Slipway judges the pods; on a re-run: already committed)"
"$slipway" deploy dev

step "slipway promote dev rc   (by digest; on a re-run: already promoted)"
"$slipway" promote dev rc

step "slipway deploy prod   (requires dev: the same digest runs there)"
"$slipway" deploy prod

step "slipway status"
"$slipway" status

step "slipway history prod   (the git log of envs/prod/hello.yaml)"
"$slipway" history prod

step "the environment repository: git log"
git --git-dir="$bare" log --format='%h %s%n        %(trailers:key=Slipway-Version,key=Slipway-Digest,separator=%x2C )' main

step "kubectl get kustomizations -n flux-system   (Flux's own health check polls every 5 s: it agrees a moment after Slipway's verdict)"
"$kubectl" -n flux-system wait --for=condition=Ready --timeout=60s kustomization/dev kustomization/prod >/dev/null || true
"$kubectl" -n flux-system get kustomizations

for env in dev prod; do
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

cat >&2 <<'TXT'

Done. Flux applied every change from the environment repository; Slipway
committed, nudged and judged. Run `make demo-gitops` again: every step says it
is up to date. `make demo-gitops-down` stops the git server, Flux, the node,
the registries and the control plane.
TXT
