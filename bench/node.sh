#!/usr/bin/env bash
# On a real node (hack/testenv/node.sh; needs root), in one run:
#  1. command start to verdict for a 3-replica rolling update of hello-go,
#     slipway deploy against kubectl apply + kubectl rollout status on the
#     same manifests;
#  2. a crash-looping version: slipway's verdict (failed, rolled back)
#     against kubectl rollout status, which waits for the progress deadline;
#  3. requests lost during rolling deploys under load (the zero-downtime
#     test, TestRealNodeZeroDowntime/defaults, counts them).
#   bench/node.sh [RUNS]     (default 5; DEADLINE=60 seconds of progress deadline)
source "$(dirname "$0")/lib.sh"
runs=${1:-5}; deadline=${DEADLINE:-60}
real_node_env node 28
trap '"$node" stop >/dev/null 2>&1; "$k8s" stop >/dev/null 2>&1; rm -rf "$work"' EXIT
real_node_up
kubectl=$("$k8s" bin)/kubectl

proj=$work/hello
hello_project "$proj" "$reg"
cat >>"$proj/slipway.yaml" <<YAML
environments:
  sw: {registry: local, context: slipway-local, namespace: bench-slipway, replicas: 3}
  kc: {registry: local, context: slipway-local, namespace: bench-kubectl, replicas: 3}
deploy: {pod: pod.yml, port: 8080, drain: 1s, timeout: ${deadline}s}
YAML
hello_repo "$proj"

# Both namespaces get a first revision (and the image is on the node), so
# every timed run is an update.
new_version first
slipway deploy sw >/dev/null 2>&1
slipway deploy kc --dry-run >"$work/kc.yaml" 2>/dev/null
"$kubectl" apply --server-side --field-manager=slipway -f "$work/kc.yaml" >/dev/null
"$kubectl" -n bench-kubectl rollout status deploy/hello >/dev/null

s=(); k=()
for i in $(seq 1 "$runs"); do
  new_version "run $i"
  slipway deploy kc --dry-run >"$work/kc.yaml" 2>/dev/null
  timed s slipway deploy sw --no-deps
  timed k sh -c "'$kubectl' apply --server-side --field-manager=slipway -f '$work/kc.yaml' && '$kubectl' -n bench-kubectl rollout status deploy/hello --timeout=${deadline}s"
done

# A crash-looping version: the app cannot listen on PORT and exits 1.
sed -i 's/^    - name: app$/    - name: app\n      env: [{name: PORT, value: "no-such-port"}]/' pod.yml
grep -q no-such-port pod.yml || { echo "bench/node.sh: could not break pod.yml" >&2; exit 1; }
new_version crash
slipway deploy kc --dry-run >"$work/kc.yaml" 2>/dev/null
cs=(); ck=()
timed cs slipway deploy sw --no-deps
timed ck sh -c "'$kubectl' apply --server-side --field-manager=slipway -f '$work/kc.yaml' && '$kubectl' -n bench-kubectl rollout status deploy/hello --timeout=$(( deadline * 2 ))s"
"$kubectl" -n bench-kubectl rollout undo deploy/hello >/dev/null 2>&1 || true

# The node's own memory: containerd, kubelet, kube-proxy and the relays
# (resident set sizes now, with 6 pods running), and the containers' shims.
rss_kib() { awk '/^VmRSS:/ { s += $2 } END { print s + 0 }' "$@" 2>/dev/null || echo 0; }
node_pids=$(cat "$SLIPWAY_TESTENV"/node/run/*.pid)
shim_pids=$(pgrep -f containerd-shim-runc-v2 || true)
node_kib=$(rss_kib $(printf '/proc/%s/status ' $node_pids))
shim_kib=$(rss_kib $(printf '/proc/%s/status ' $shim_pids))

# Free the node for the zero-downtime test, which starts its own.
"$node" stop >/dev/null 2>&1; "$k8s" stop >/dev/null 2>&1
load=$(cd "$root" && SLIPWAY_REALNODE=1 go test -count=1 -v -run 'TestRealNodeZeroDowntime/defaults' ./internal/testenv/ 2>&1 |
  grep -o '[0-9]* requests in [0-9.]*s ([0-9]*/s): [0-9]* ok, [0-9]* failed' | head -1)

ms=$(median "${s[@]}"); mk=$(median "${k[@]}")
printf '\nreal node: 3-replica rolling update of hello-go, command start to verdict, median of %d runs\n' "$runs"
printf '  slipway deploy                        %7.3f s\n' "$ms"
printf '  kubectl apply + rollout status        %7.3f s\n' "$mk"
printf '  ratio slipway/kubectl                 %7s   (goal <= 1.10)\n' "$(ratio "$ms" "$mk")"
printf '\nreal node: crash-looping rollout (progress deadline %ds)\n' "$deadline"
printf '  slipway deploy: failed, rolled back   %7.3f s   (goal < 15)\n' "${cs[0]}"
printf '  kubectl rollout status: gave up after %7.3f s\n' "${ck[0]}"
printf '\nreal node: requests through the Service during a rolling deploy, a rollback, a canary added and retired\n'
printf '  %s   (goal: 0 failed of >= 2000, >= 200/s)\n' "${load:-the zero-downtime test did not report}"
printf '\nreal node: memory with 6 pods running\n'
printf '  containerd, kubelet, kube-proxy, relays %5d MiB   (goal < 400)\n' $(( node_kib / 1024 ))
printf '  containerd shims, one per pod           %5d MiB\n' $(( shim_kib / 1024 ))
