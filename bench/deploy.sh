#!/usr/bin/env bash
# On the local control plane, in one run: command start to verdict for a
# 3-replica rollout, slipway deploy against kubectl apply + kubectl rollout
# status on the same manifests; then how long each takes to report a
# crash-looping rollout.
#   bench/deploy.sh [RUNS]     (default 3; DEADLINE=30 seconds of progress deadline)
source "$(dirname "$0")/lib.sh"
runs=${1:-3}; deadline=${DEADLINE:-30}
work=$(mktemp -d /tmp/slipway-bench.XXXXXX)
port=${PORT:-5058}
export SLIPWAY_TESTENV=$work/testenv
export SLIPWAY_APISERVER_PORT=29443 SLIPWAY_ETCD_PORT=29379 SLIPWAY_ETCD_PEER_PORT=29380 \
  SLIPWAY_KCM_PORT=29457 SLIPWAY_SCHEDULER_PORT=29459 SLIPWAY_KWOK_PORT=29250
k8s=$root/hack/testenv/k8s.sh
trap '"$k8s" stop >/dev/null 2>&1; "$root/hack/testenv/registry.sh" stop "$port" >/dev/null 2>&1; rm -rf "$work"' EXIT

need_slipway
"$root/hack/testenv/registry.sh" start "$port" 2>/dev/null
eval "$("$k8s" start 2>/dev/null)"
export KUBECONFIG
kubectl=$("$k8s" bin)/kubectl

proj=$work/proj
mkdir -p "$proj"
cat >"$proj/slipway.yaml" <<YAML
apiVersion: slipway/v1
app: bench
image: {layers: [{from: app.txt, to: /app.txt}]}
registries: {local: {url: 127.0.0.1:$port/bench, insecure: true}}
environments:
  sw: {registry: local, context: slipway-local, namespace: bench-slipway, replicas: 3}
  kc: {registry: local, context: slipway-local, namespace: bench-kubectl, replicas: 3}
deploy: {drain: 1s, timeout: ${deadline}s}
YAML
cat >"$proj/pod.yml" <<'YAML'
spec:
  containers: [{name: app, readinessProbe: {httpGet: {path: /, port: 8080}}}]
YAML
printf '.slipway/\n' >"$proj/.gitignore"
cd "$proj"
git init -q -b main
git add -A
git -c user.name=b -c user.email=b@localhost commit -q -m "feat: bench"

# new_version: a new commit, version and digest, pushed.
new_version() {
  echo "$RANDOM" >app.txt
  git add -A && git -c user.name=b -c user.email=b@localhost commit -q -m "fix: $1"
  slipway release && slipway build && slipway push local
} >/dev/null 2>&1

# Both namespaces get a first revision, so every timed run is an update.
new_version first
slipway deploy sw >/dev/null 2>&1
slipway deploy kc --dry-run >"$work/kc.yaml" 2>/dev/null
"$kubectl" apply --server-side --field-manager=slipway -f "$work/kc.yaml" >/dev/null
"$kubectl" -n bench-kubectl rollout status deploy/bench >/dev/null

s=(); k=()
for i in $(seq 1 "$runs"); do
  new_version "run $i"
  slipway deploy kc --dry-run >"$work/kc.yaml" 2>/dev/null
  timed s slipway deploy sw --no-deps
  timed k sh -c "'$kubectl' apply --server-side --field-manager=slipway -f '$work/kc.yaml' && '$kubectl' -n bench-kubectl rollout status deploy/bench --timeout=${deadline}s"
done

# A crash-looping version.
cat >pod.yml <<'YAML'
metadata: {labels: {pod-container-running-failed.stage.kwok.x-k8s.io: "true"}}
spec:
  containers: [{name: app, readinessProbe: {httpGet: {path: /, port: 8080}}}]
YAML
new_version crash
slipway deploy kc --dry-run >"$work/kc.yaml" 2>/dev/null
cs=(); ck=()
timed cs slipway deploy sw --no-deps
timed ck sh -c "'$kubectl' apply --server-side --field-manager=slipway -f '$work/kc.yaml' && '$kubectl' -n bench-kubectl rollout status deploy/bench --timeout=$(( deadline * 2 ))s"
"$kubectl" -n bench-kubectl rollout undo deploy/bench >/dev/null 2>&1 || true

ms=$(median "${s[@]}"); mk=$(median "${k[@]}")
printf '\n3-replica rolling update, command start to verdict, median of %d runs\n' "$runs"
printf '  slipway deploy                        %7.3f s\n' "$ms"
printf '  kubectl apply + rollout status        %7.3f s\n' "$mk"
printf '  ratio slipway/kubectl                 %7s   (goal <= 1.10)\n' "$(ratio "$ms" "$mk")"
printf '  both wait out deploy.stability (minReadySeconds, 3s) on the same manifests\n'
printf '\ncrash-looping rollout (progress deadline %ds)\n' "$deadline"
printf '  slipway deploy: failed, rolled back   %7.3f s   (goal < 15)\n' "${cs[0]}"
printf '  kubectl rollout status: gave up after %7.3f s\n' "${ck[0]}"
