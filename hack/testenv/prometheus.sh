#!/usr/bin/env bash
# Prometheus for Slipway's canary analysis tests and benchmark: Debian's
# prometheus package, run out of cluster against the control plane of
# hack/testenv/k8s.sh (with the real node of hack/testenv/node.sh), on
# 127.0.0.1 only. It scrapes the pods Slipway deploys by pod IP, which the
# host routes into the node's network namespace (node.sh): nothing it
# reaches is outside the machine.
#
#   prometheus.sh install  install Debian's prometheus (and jq) when
#                          missing, with no service started by the package
#   prometheus.sh start    install if needed, start, wait until ready;
#                          prints `export SLIPWAY_PROMETHEUS_URL=...`
#   prometheus.sh stop     stop what this script started (by recorded PID
#                          and command line), remove Prometheus's data
#   prometheus.sh status   whether it runs
#   prometheus.sh env      print the export of start
#
# Finding the pods: Debian builds Prometheus without its Kubernetes service
# discovery (kubernetes_sd_configs is not a field there), so start runs a
# discovery loop of its own beside it: every second it lists the running
# pods labelled app.kubernetes.io/managed-by: slipway with kubectl and
# writes those declaring container port SLIPWAY_PROMETHEUS_POD_PORT (8080,
# hello-go's) as targets for file_sd_configs, when they changed. Prometheus
# reads the file on change; each series gets the pod's namespace, pod,
# environment (slipway.dev/environment), version (app.kubernetes.io/version)
# and pod_template_hash as labels, so queries can tell a canary's pods from
# its main environment's. The loop ends by itself once Prometheus is gone.
#
# kubectl uses the admin kubeconfig k8s.sh writes under SLIPWAY_TESTENV
# (never $KUBECONFIG, which may name a real cluster). State (config,
# targets, data, logs, PIDs) lives in
#   ${SLIPWAY_TESTENV:-/tmp/slipway-testenv}/prometheus/
#
# Environment overrides:
#   SLIPWAY_PROMETHEUS_PORT (19090)      SLIPWAY_PROMETHEUS_SCRAPE (15s)
#   SLIPWAY_PROMETHEUS_POD_PORT (8080)   SLIPWAY_START_TIMEOUT (seconds, 90)
#   and k8s.sh's SLIPWAY_CACHE and SLIPWAY_K8S_VERSION, to find kubectl
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
self=$here/$(basename "$0")
testenv=${SLIPWAY_TESTENV:-/tmp/slipway-testenv}
# Absolute paths: they are part of the command line that identifies our process.
case $testenv in /*) ;; *) testenv=$PWD/$testenv ;; esac
state=$testenv/prometheus
proc_dir=$state
# shellcheck source=hack/lib/proc.sh
source "$here/../lib/proc.sh"
kubeconfig=$testenv/kubeconfig
port=${SLIPWAY_PROMETHEUS_PORT:-19090}
scrape=${SLIPWAY_PROMETHEUS_SCRAPE:-15s}
pod_port=${SLIPWAY_PROMETHEUS_POD_PORT:-8080}
start_timeout=${SLIPWAY_START_TIMEOUT:-90}
url=http://127.0.0.1:$port

log() { echo "prometheus.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[[ $port =~ ^[0-9]{1,5}$ ]] || die "SLIPWAY_PROMETHEUS_PORT: '${port:0:32}' is not a port"
[[ $pod_port =~ ^[0-9]{1,5}$ ]] || die "SLIPWAY_PROMETHEUS_POD_PORT: '${pod_port:0:32}' is not a port"
[[ $scrape =~ ^[0-9]+(ms|s|m)$ ]] || die "SLIPWAY_PROMETHEUS_SCRAPE: '${scrape:0:32}' is not a duration such as 15s"

# install_prometheus: Debian's package. Its maintainer scripts would start the
# system's own Prometheus on every interface (:9090) where no policy says
# otherwise: a policy-rc.d that refuses every start is put in place for
# the install when there is none.
install_prometheus() {
  command -v prometheus >/dev/null && command -v jq >/dev/null && return 0
  local policy=/usr/sbin/policy-rc.d ours=0
  if [ "$(id -u)" -eq 0 ] && [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# prometheus.sh: no service starts while it installs prometheus\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    ours=1
  fi
  local rc=0
  "$here/../install-deps.sh" prometheus curl jq || rc=$?
  [ "$ours" -eq 1 ] && rm -f "$policy"
  [ "$rc" -eq 0 ] || die "installing Debian's prometheus failed"
  command -v prometheus >/dev/null || die "prometheus is not on PATH after the install"
}

config() {
  cat <<YAML
# Written by hack/testenv/prometheus.sh.
global:
  scrape_interval: $scrape
  scrape_timeout: 5s
  evaluation_interval: 1m
scrape_configs:
  - job_name: slipway-pods
    metrics_path: /metrics
    file_sd_configs:
      - files: [$state/targets/*.json]
        refresh_interval: 1m
YAML
}

args() { # NAME: its command line, one argument a line
  case $1 in
    prometheus)
      printf '%s\n' "$(command -v prometheus)" --config.file="$state/prometheus.yml" \
        --storage.tsdb.path="$state/data" --storage.tsdb.retention.time=2h \
        --web.listen-address="127.0.0.1:$port" --log.level=info
      ;;
    discover) printf '%s\n' bash "$self" discover ;;
  esac
}

# launch NAME: start it in a session of its own, its PID and command line
# recorded.
launch() {
  local a=()
  mapfile -t a < <(args "$1")
  printf '%s\0' "${a[@]}" >"$state/$1.cmdline"
  # 9>&-: not holding start's lock on the state directory.
  setsid "${a[@]}" >"$state/$1.log" 2>&1 </dev/null 9>&- &
  echo $! >"$state/$1.pid"
}

# targets: the file_sd targets of the pods in kubectl's JSON on stdin.
targets() {
  jq -c --argjson port "$pod_port" '[.items[]
    | select(.status.phase == "Running" and (.status.podIP // "") != "" and .metadata.deletionTimestamp == null)
    | select(any(.spec.containers[].ports[]?; .containerPort == $port))
    | {targets: [.status.podIP + ":" + ($port | tostring)],
       labels: {namespace: .metadata.namespace, pod: .metadata.name,
                environment: (.metadata.labels["slipway.dev/environment"] // ""),
                version: (.metadata.labels["app.kubernetes.io/version"] // ""),
                pod_template_hash: (.metadata.labels["pod-template-hash"] // "")}}]'
}

# discover: every second, the targets of Slipway's running pods into
# $state/targets/pods.json when they changed, until Prometheus is gone.
discover() {
  local kubectl
  kubectl=$("$here/k8s.sh" bin)/kubectl
  mkdir -p "$state/targets"
  while running prometheus; do
    if "$kubectl" --kubeconfig="$kubeconfig" --request-timeout=5s get pods -A \
      -l app.kubernetes.io/managed-by=slipway -o json 2>>"$state/discover.err" | targets >"$state/targets/.pods.new"; then
      if ! cmp -s "$state/targets/.pods.new" "$state/targets/pods.json"; then
        mv -f "$state/targets/.pods.new" "$state/targets/pods.json"
      fi
    fi
    sleep 1
  done
}

ready() { curl -fsS --max-time 2 "$url/-/ready" >/dev/null 2>&1; }

start() {
  if running prometheus; then
    log "already running on $url"
    echo "export SLIPWAY_PROMETHEUS_URL=$url"
    return 0
  fi
  install_prometheus
  [ -f "$kubeconfig" ] || die "no $kubeconfig: start the control plane (hack/testenv/k8s.sh start) with the same SLIPWAY_TESTENV first"
  if curl -fsS --max-time 2 "$url/" >/dev/null 2>&1; then
    die "127.0.0.1:$port is taken by a process this script did not start; stop it or set SLIPWAY_PROMETHEUS_PORT"
  fi
  mkdir -p "$state/data" "$state/targets"
  echo '[]' >"$state/targets/pods.json"
  config >"$state/prometheus.yml"
  promtool check config "$state/prometheus.yml" >/dev/null 2>"$state/check.log" ||
    die "the config does not pass promtool: $(tail -n 5 "$state/check.log")"
  launch prometheus
  local deadline=$((SECONDS + start_timeout))
  until ready; do
    running prometheus || die "Prometheus exited; its log ends: $(tail -n 5 "$state/prometheus.log")"
    [ $SECONDS -lt $deadline ] || { stop; die "not ready after ${start_timeout}s; see $state/prometheus.log"; }
    sleep 0.2
  done
  launch discover
  log "started on $url (scrape every $scrape, pods' port $pod_port)"
  echo "export SLIPWAY_PROMETHEUS_URL=$url"
}

stop() {
  stop_one discover
  stop_one prometheus
  rm -rf "$state/data" "$state/targets"
}

status() {
  local n
  for n in prometheus discover; do
    if running $n; then echo "$n running (pid $(cat "$state/$n.pid"))"; else echo "$n stopped"; fi
  done
  running prometheus && running discover
}

cmd=${1:-status}
case $cmd in
  start | stop) serialise "$state" ;; # starts and stops on one state directory take turns
esac
case $cmd in
  install) install_prometheus ;;
  discover) discover ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "export SLIPWAY_PROMETHEUS_URL=$url" ;;
  *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
esac
