#!/usr/bin/env bash
# On a real node (hack/testenv/node.sh; needs root) with Debian's Prometheus
# (hack/testenv/prometheus.sh) scraping every 15 s: how long a canary that
# breaks under load takes to fail its analysis, from the start of its soak
# (the analysis starts once the canary's pods are ready) to the verdict.
# hello-go's prod (2 replicas) serves 20 requests a second through its
# Service, which also reaches the canary's pod; the canary answers 500 to
# half of them (HELLO_FAIL_PERCENT=50). The analysis compares the rate of
# 5xx answers of the canary's pods with prod's every 5 s, over the
# last minute (four scrapes).
#   bench/canary.sh [RUNS]     (default 3)
source "$(dirname "$0")/lib.sh"
runs=${1:-3}
real_node_env canary 29
export SLIPWAY_PROMETHEUS_PORT=29090 SLIPWAY_PROMETHEUS_SCRAPE=15s
prom=$root/hack/testenv/prometheus.sh
load_pid=
trap '[ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null; "$prom" stop >/dev/null 2>&1;
  "$node" stop >/dev/null 2>&1; "$k8s" stop >/dev/null 2>&1; rm -rf "$work"' EXIT

"$prom" install >/dev/null
real_node_up
eval "$("$prom" start 2>/dev/null)"

proj=$work/hello
hello_project "$proj" "$reg"
errors='sum(rate(http_requests_total{namespace="{{.Namespace}}",pod=~"{{.Pods}}",handler="/",code=~"5.."}[1m]))'
all='sum(rate(http_requests_total{namespace="{{.Namespace}}",pod=~"{{.Pods}}",handler="/"}[1m]))'
cat >>"$proj/slipway.yaml" <<YAML
environments:
  prod:
    registry: local
    context: slipway-local
    namespace: bench-canary
    replicas: 2
    requires: {env: canary, soak: 5m}
  canary:
    registry: local
    context: slipway-local
    namespace: bench-canary
    canaryOf: prod
    analysis:
      url: $SLIPWAY_PROMETHEUS_URL
      interval: 5s
      metrics:
        - name: error-rate
          query: '$errors / $all'
          maxIncrease: 0.05
deploy: {pod: pod.yml, port: 8080, drain: 1s, timeout: 60s}
YAML
hello_repo "$proj"

# prom_value QUERY: the one value of an instant query, "" for none.
prom_value() {
  curl -fsS --max-time 5 "$SLIPWAY_PROMETHEUS_URL/api/v1/query" --data-urlencode "query=$1" |
    jq -r '.data.result[0].value[1] // ""'
}

new_version first
slipway deploy prod --skip-gate --reason "the benchmark's first prod" >/dev/null 2>&1 ||
  { echo "bench/canary.sh: the first deploy to prod failed" >&2; exit 1; }
svc=$("$("$k8s" bin)/kubectl" -n bench-canary get svc hello -o jsonpath='{.spec.clusterIP}:{.spec.ports[0].port}')
# The load: 20 requests a second through prod's Service, at most 20 minutes,
# each on a connection of its own (Connection: close), so that kube-proxy
# spreads them over prod's pods and the canary's: one kept-alive connection
# would reach one pod.
curl -s -o /dev/null --max-time 2 --rate 20/s -H 'Connection: close' "http://$svc/?n=[1-24000]" >/dev/null 2>&1 &
load_pid=$!
for _ in $(seq 1 90); do
  [ "$(prom_value 'count(up{namespace="bench-canary",environment="prod"} == 1)')" = 2 ] && break
  sleep 1
done
[ "$(prom_value 'count(up{namespace="bench-canary",environment="prod"} == 1)')" = 2 ] ||
  { echo "bench/canary.sh: Prometheus does not scrape prod's 2 pods" >&2; exit 1; }

# The canary breaks: half its answers for / are 500s.
sed -i 's|^    - name: app$|&\n      env: [{name: HELLO_FAIL_PERCENT, value: "50"}]|' pod.yml
grep -q HELLO_FAIL_PERCENT pod.yml || { echo "bench/canary.sh: could not set HELLO_FAIL_PERCENT" >&2; exit 1; }

# stamp: each line of the input, after the time it was read (ns).
stamp() { while IFS= read -r l; do printf '%s %s\n' "$(now)" "$l"; done; }

t=(); ready=()
for i in $(seq 1 "$runs"); do
  new_version "breaking canary $i"
  a=$(now)
  slipway -v deploy canary --no-deps 2>&1 | stamp >"$work/canary.log" || true
  b=$(now)
  grep -q "CheckFailed.*check canary analysis failed: round .*error-rate: the canary's .* is above" "$work/canary.log" ||
    { echo "bench/canary.sh: the canary's analysis did not fail on its error rate:" >&2; cut -d' ' -f2- "$work/canary.log" >&2; exit 1; }
  soak=$(grep -m1 "comparing canary's" "$work/canary.log" | cut -d' ' -f1)
  [ -n "$soak" ] || { echo "bench/canary.sh: no start of the analysis in the output" >&2; exit 1; }
  t+=("$(secs "$soak" "$b")")
  ready+=("$(secs "$a" "$soak")")
  printf '  run %d: failed %s s after the soak began (%s)\n' "$i" "${t[-1]}" \
    "$(grep -o 'round [0-9]*, [0-9]*s into the [0-9a-z]* window' "$work/canary.log" | head -1)"
done

printf '\nreal node, Prometheus scraping every 15 s: a canary answering 500 to half its requests under load, median of %d runs\n' "$runs"
printf '  command start to the soak (rollout, pods ready)      %7.3f s\n' "$(median "${ready[@]}")"
printf '  soak start to the failed analysis (the verdict)      %7.3f s   (goal < 60)\n' "$(median "${t[@]}")"
