#!/usr/bin/env bash
# On the local control plane (kwok nodes), APPS apps x 4 environments as
# Slipway labels them: the wall time of slipway status --all (table, JSON,
# and with the page), against kubectl listing the same Deployments and
# ReplicaSets; the page's size, and how long headless Chromium takes to
# load it. The API requests of status --all are 2 per context, whatever
# APPS: internal/fleet's TestRealControlPlane counts them.
#   bench/fleet.sh [RUNS]     (default 3; APPS=500)
source "$(dirname "$0")/lib.sh"
runs=${1:-3}; apps=${APPS:-500}
work=$(mktemp -d /tmp/slipway-bench.XXXXXX)
export SLIPWAY_TESTENV=$work/testenv
export SLIPWAY_APISERVER_PORT=24443 SLIPWAY_ETCD_PORT=24379 SLIPWAY_ETCD_PEER_PORT=24380 \
  SLIPWAY_KCM_PORT=24457 SLIPWAY_SCHEDULER_PORT=24459 SLIPWAY_KWOK_PORT=24250
k8s=$root/hack/testenv/k8s.sh
trap '"$k8s" stop >/dev/null 2>&1; rm -rf "$work"' EXIT

need_slipway
eval "$("$k8s" start 2>/dev/null)"
export KUBECONFIG
kubectl=$("$k8s" bin)/kubectl

# objects: a namespace per app and environment, and its Deployment.
objects() {
  local i env name ns
  for i in $(seq -f '%03g' 1 "$apps"); do
    for env in dev showcase staging prod; do
      name=app$i; ns=$name-$env
      cat <<YAML
---
apiVersion: v1
kind: Namespace
metadata: {name: $ns}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $name
  namespace: $ns
  labels: {app.kubernetes.io/name: $name, slipway.dev/environment: $env, slipway.dev/service: $env, app.kubernetes.io/managed-by: slipway}
  annotations: {slipway.dev/version: 1.0.$i, slipway.dev/deployed-by: bench, slipway.dev/reason: bench,
    slipway.dev/deployed-at: "2026-01-01T00:00:00Z", slipway.dev/image: "registry.example/$name:1"}
spec:
  replicas: 1
  selector: {matchLabels: {app.kubernetes.io/name: $name, slipway.dev/environment: $env}}
  template:
    metadata: {labels: {app.kubernetes.io/name: $name, slipway.dev/environment: $env}}
    spec: {containers: [{name: app, image: "registry.example/$name:1"}]}
YAML
    done
  done
}
objects >"$work/objects.yaml"
"$kubectl" apply -f "$work/objects.yaml" >/dev/null
rows=$((apps * 4))
# kubectl apply returns once every object exists; their rollouts (the
# controller manager's 20 requests a second) go on during the runs.

t=(); j=(); h=(); k=(); c=()
for _ in $(seq 1 "$runs"); do
  timed t slipway status --all
  timed j slipway status --all -o json
  timed h slipway status --all --html "$work/fleet.html"
  timed k sh -c "'$kubectl' get deploy -A -l app.kubernetes.io/managed-by=slipway && '$kubectl' get rs -A -l slipway.dev/environment"
  timed c chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --user-data-dir="$work/chromium" --dump-dom "file://$work/fleet.html"
done

printf '\nslipway status --all over %d apps x 4 environments (%d Deployments), median of %d runs\n' "$apps" "$rows" "$runs"
printf '  table                                 %7.3f s   (goal < 2)\n' "$(median "${t[@]}")"
printf '  -o json                               %7.3f s\n' "$(median "${j[@]}")"
printf '  table and --html page                 %7.3f s\n' "$(median "${h[@]}")"
printf '  kubectl get deploy,rs -A (the lists)  %7.3f s\n' "$(median "${k[@]}")"
printf '  API requests                          %7d     (2 per context: TestRealControlPlane)\n' 2
printf '  the page                              %7d bytes\n' "$(wc -c <"$work/fleet.html")"
printf '  headless Chromium loads it (--dump-dom, process start included) %.3f s\n' "$(median "${c[@]}")"
