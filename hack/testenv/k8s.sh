#!/usr/bin/env bash
# A local Kubernetes control plane for Slipway's end-to-end tests and demo:
# etcd, kube-apiserver, kube-controller-manager and kube-scheduler, with kwok
# simulating the nodes and their kubelets. Everything listens on 127.0.0.1.
# With SLIPWAY_KWOK=0 kwok is neither built nor started and there are no
# simulated nodes: for a real node (hack/testenv/node.sh), as make demo runs
# as root.
#
#   k8s.sh install   build the binaries into the cache (once per version)
#   k8s.sh install-node
#                    also build kubelet and kube-proxy, for the real node of
#                    hack/testenv/node.sh (a cold kubelet build takes minutes)
#   k8s.sh start     install if needed, start, wait until usable; prints
#                    `export KUBECONFIG=...` on stdout
#   k8s.sh stop      stop the processes this script started (by recorded PID)
#   k8s.sh status    which components run
#   k8s.sh env       print `export KUBECONFIG=...`
#   k8s.sh bin       print the directory holding kubectl and the other binaries
#
# Binaries are built from Go modules (no prebuilt downloads) in a throwaway
# build module, never the project's go.mod, and cached by version in
#   ${SLIPWAY_CACHE:-$HOME/.cache/slipway}/testenv/k8s-<version>/bin/
# State (certificates, kubeconfig, logs, PIDs) lives in
#   ${SLIPWAY_TESTENV:-/tmp/slipway-testenv}/k8s/, the kubeconfig one level up.
#
# Environment overrides:
#   SLIPWAY_K8S_VERSION (v1.36.3)   SLIPWAY_KWOK_VERSION (v0.8.0)
#   SLIPWAY_APISERVER_PORT (16443)  SLIPWAY_ETCD_PORT (12379)
#   SLIPWAY_ETCD_PEER_PORT (12380)  SLIPWAY_KCM_PORT (16457)
#   SLIPWAY_SCHEDULER_PORT (16459)  SLIPWAY_KWOK_PORT (16250)
#   SLIPWAY_NODES (3; 0 for none)   SLIPWAY_START_TIMEOUT (seconds, 90)
#   SLIPWAY_KWOK (1; 0: no kwok, no simulated nodes, SLIPWAY_NODES 0)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
k8s_version=${SLIPWAY_K8S_VERSION:-v1.36.3}
kwok_version=${SLIPWAY_KWOK_VERSION:-v0.8.0}
kwok=${SLIPWAY_KWOK:-1}
case $kwok in
  0 | 1) ;;
  *) echo "k8s.sh: SLIPWAY_KWOK is 1 (simulated nodes) or 0 (none, for a real node), not '${kwok:0:64}'" >&2; exit 2 ;;
esac

cache_root=${SLIPWAY_CACHE:-${HOME:-/root}/.cache/slipway}
testenv=${SLIPWAY_TESTENV:-/tmp/slipway-testenv}
# Absolute paths: they are part of the command lines that identify our processes.
case $cache_root in /*) ;; *) cache_root=$PWD/$cache_root ;; esac
case $testenv in /*) ;; *) testenv=$PWD/$testenv ;; esac

cache=$cache_root/testenv/k8s-$k8s_version
bin=$cache/bin
stages=$cache/kwok-$kwok_version-stages
state=$testenv/k8s
proc_dir=$state
# shellcheck source=hack/lib/proc.sh
source "$here/../lib/proc.sh"
pki=$state/pki
kubeconfig=$testenv/kubeconfig

apiserver_port=${SLIPWAY_APISERVER_PORT:-16443}
etcd_port=${SLIPWAY_ETCD_PORT:-12379}
etcd_peer_port=${SLIPWAY_ETCD_PEER_PORT:-12380}
kcm_port=${SLIPWAY_KCM_PORT:-16457}
scheduler_port=${SLIPWAY_SCHEDULER_PORT:-16459}
kwok_port=${SLIPWAY_KWOK_PORT:-16250}
nodes=${SLIPWAY_NODES:-$((kwok * 3))}
if [ "$kwok" = 0 ] && [ "$nodes" != 0 ]; then
  echo "k8s.sh: SLIPWAY_NODES=${nodes:0:64} needs kwok to simulate them: drop SLIPWAY_KWOK=0, or set SLIPWAY_NODES=0" >&2
  exit 2
fi
start_timeout=${SLIPWAY_START_TIMEOUT:-90}
service_cidr=10.96.0.0/16
service_ip=10.96.0.1

# Start order; stop goes the other way and stops kwok whatever SLIPWAY_KWOK
# says, since an earlier start may have started it.
all_components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
components=("${all_components[@]:0:4}")
launched=()
k8s_binaries=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
binaries=("${k8s_binaries[@]}" etcd)
if [ "$kwok" = 1 ]; then
  components+=(kwok)
  binaries+=(kwok)
fi
# Built only by install-node: the control plane alone does not need them.
node_binaries=(kubelet kube-proxy)
with_node=0
kwok_stage_files=(
  node/fast/node-initialize.yaml
  node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
  pod/fast/pod-ready.yaml
  pod/fast/pod-complete.yaml
  pod/fast/pod-delete.yaml
  pod/chaos/pod-container-running-failed.yaml
)

log() { echo "k8s.sh: $*" >&2; }
die() { log "$*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- install

installed() {
  local b
  for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || return 1; done
  if [ "$with_node" = 1 ]; then
    for b in "${node_binaries[@]}"; do [ -x "$bin/$b" ] || return 1; done
  fi
  [ "$kwok" = 0 ] && return 0
  [ "$(cat "$bin/.kwok-version" 2>/dev/null)" = "$kwok_version" ] || return 1
  installed_stages
}

# gobuild NAME...: build these commands of the throwaway build module in $PWD
# with one go build, so that it compiles the packages they share once and
# links one binary while it compiles another's packages, where a go build
# each left a core idle through every link. go build -o DIR names a binary
# after its package (etcd's go.etcd.io/etcd/server/v3 is "server"); it
# writes them next to $bin, on its file system, to be renamed into place.
gobuild() {
  local t0 m pkgs=() out=$bin/.build
  for m in "$@"; do
    case $m in
      etcd) pkgs+=(go.etcd.io/etcd/server/v3) ;;
      *) pkgs+=("k8s.io/kubernetes/cmd/$m") ;;
    esac
  done
  t0=$(now)
  log "building $* (${pkgs[*]})"
  rm -rf "$out"
  mkdir -p "$out"
  nice -n 10 go build -p 2 -trimpath -tags selinux,notest -ldflags "$ldflags" -o "$out/" "${pkgs[@]}"
  for m in "$@"; do
    case $m in
      etcd) mv -f "$out/server" "$bin/etcd" ;;
      *) mv -f "$out/$m" "$bin/$m" ;;
    esac
  done
  rm -rf "$out"
  log "built $* in $(since "$t0") s"
}

install() {
  installed && return 0
  command -v go >/dev/null || die "go is not installed"
  # One build at a time per cache; a second caller waits and then finds it done.
  mkdir -p "$cache"
  exec 8>"$cache/.lock"
  flock 8
  if installed; then exec 8>&-; return 0; fi
  local t0 minor major staging mods m
  t0=$(now)
  mkdir -p "$bin"
  # Every go command runs in a fresh directory outside any module, so that
  # the caller's module (the project's go.mod) is never read or written.
  work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-k8s-build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  cd "$work"
  export CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=mod -buildvcs=false"

  # The kwok stage definitions ship in the kwok module; keep a copy by version.
  if [ "$kwok" = 1 ] && ! installed_stages; then
    log "fetching sigs.k8s.io/kwok@$kwok_version (stage definitions)"
    local kwok_dir
    kwok_dir=$(go mod download -json "sigs.k8s.io/kwok@$kwok_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [ -d "$kwok_dir/kustomize/stage" ] || die "no kustomize/stage in sigs.k8s.io/kwok@$kwok_version"
    rm -rf "$stages.tmp"
    mkdir -p "$stages.tmp"
    cp -r "$kwok_dir/kustomize/stage/." "$stages.tmp/"
    chmod -R u+w "$stages.tmp"
    rm -rf "$stages" && mv "$stages.tmp" "$stages"
  fi

  if [ "$kwok" = 1 ] && { [ ! -x "$bin/kwok" ] || [ "$(cat "$bin/.kwok-version" 2>/dev/null)" != "$kwok_version" ]; }; then
    local t1
    t1=$(now)
    log "building kwok (sigs.k8s.io/kwok/cmd/kwok@$kwok_version)"
    rm -f "$bin/kwok"
    GOFLAGS=-buildvcs=false GOBIN=$bin nice -n 10 go install -p 2 -trimpath "sigs.k8s.io/kwok/cmd/kwok@$kwok_version"
    echo "$kwok_version" >"$bin/.kwok-version"
    log "built kwok in $(since "$t1") s"
  fi

  local missing=()
  for m in "${k8s_binaries[@]}" etcd; do [ -x "$bin/$m" ] || missing+=("$m"); done
  if [ "$with_node" = 1 ]; then
    for m in "${node_binaries[@]}"; do [ -x "$bin/$m" ] || missing+=("$m"); done
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    # k8s.io/kubernetes replaces its staging modules (k8s.io/api, ...) with
    # ./staging/src/...; a module requiring it must map them to v0.MINOR.PATCH.
    major=${k8s_version#v}; major=${major%%.*}
    minor=${k8s_version#v*.}; minor=${minor%%.*}
    staging=v0.${k8s_version#v*.}
    log "preparing build module for k8s.io/kubernetes@$k8s_version in $work"
    local gomod
    gomod=$(go mod download -json "k8s.io/kubernetes@$k8s_version" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
    [ -f "$gomod" ] || die "could not fetch k8s.io/kubernetes@$k8s_version from the module proxy"
    # Every module in its replace block that points into ./staging, less
    # sample-cli-plugin (not published, not needed).
    mods=$(awk '/^replace \(/ { r = 1; next } r && /^\)/ { r = 0 } r && $3 ~ /^\.\/staging\// { print $1 }' "$gomod" |
      grep -v '^k8s.io/sample-cli-plugin$')
    [ -n "$mods" ] || die "no staging replace block found in $gomod"
    {
      echo "module slipway.local/testenv-k8s-build"
      echo
      echo "go $(go env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/').0"
      echo
      echo "require k8s.io/kubernetes $k8s_version"
      echo
      echo "replace ("
      for m in $mods; do printf '\t%s => %s %s\n' "$m" "$m" "$staging"; done
      echo ")"
    } >"$work/go.mod"
    cat >"$work/tools.go" <<'GO'
//go:build tools

// Package tools pins the commands built for Slipway's local test cluster.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
)
GO
    log "resolving dependencies (go mod tidy)"
    nice -n 10 go mod tidy
    log "etcd version pinned by k8s.io/kubernetes: $(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
    local v ld=""
    for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld+=" -X $v.gitVersion=$k8s_version -X $v.gitMajor=$major -X $v.gitMinor=$minor"
      ld+=" -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z"
    done
    ldflags="-s -w$ld"
    gobuild "${missing[@]}"
  fi
  cd /
  rm -rf "$work"
  trap - EXIT
  installed || die "install finished but binaries are missing in $bin"
  exec 8>&-
  log "installed in $bin ($(since "$t0") s)"
}

installed_stages() {
  local f
  for f in "${kwok_stage_files[@]}"; do [ -f "$stages/$f" ] || return 1; done
}

# ---------------------------------------------------------------- certificates

need_openssl() {
  command -v openssl >/dev/null && return 0
  if [ -x "$here/../install-deps.sh" ]; then
    "$here/../install-deps.sh" openssl
  elif [ "$(id -u)" -eq 0 ]; then
    log "installing openssl"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null; }
  fi
  command -v openssl >/dev/null || die "openssl is needed to make the cluster's certificates"
}

# cert NAME CA SUBJECT EXTENSIONS: key and certificate NAME signed by CA.
cert() {
  local name=$1 ca=$2 subj=$3 ext=$4
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$name.key" 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "$ext" >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/$ca.crt" -CAkey "$pki/$ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 365 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}

ca() { # NAME CN
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$1.key" 2>/dev/null
  openssl req -x509 -new -key "$pki/$1.key" -subj "/CN=$2" -days 3650 -out "$pki/$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# A fresh PKI at every start: etcd is wiped too, so nothing refers to the old one.
make_pki() {
  need_openssl
  rm -rf "$pki"
  mkdir -p "$pki"
  chmod 700 "$pki"
  local client="keyUsage=critical,digitalSignature"$'\n'"extendedKeyUsage=clientAuth"
  local server="keyUsage=critical,digitalSignature,keyEncipherment"$'\n'"extendedKeyUsage=serverAuth"
  ca ca slipway-local-ca
  ca front-proxy-ca slipway-local-front-proxy-ca
  cert apiserver ca "/CN=kube-apiserver" "$server"$'\n'"subjectAltName=IP:127.0.0.1,IP:$service_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert apiserver-kubelet-client ca "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
  cert front-proxy-client front-proxy-ca "/CN=front-proxy-client" "$client"
  cert admin ca "/O=system:masters/CN=slipway-admin" "$client"
  cert controller-manager ca "/O=system:masters/CN=slipway-controller-manager" "$client"
  cert scheduler ca "/O=system:masters/CN=slipway-scheduler" "$client"
  cert kwok ca "/O=system:masters/CN=slipway-kwok" "$client"
  cert kwok-serving ca "/CN=kwok-kubelet" "$server"$'\n'"subjectAltName=IP:127.0.0.1,DNS:localhost"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/sa.key" 2>/dev/null
  openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
}

# write_kubeconfig FILE CERTNAME
write_kubeconfig() {
  local file=$1 name=$2
  cat >"$file.tmp" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: slipway-local
  cluster:
    server: https://127.0.0.1:$apiserver_port
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 "$pki/$name.crt")
    client-key-data: $(base64 -w0 "$pki/$name.key")
contexts:
- name: slipway-local
  context:
    cluster: slipway-local
    user: $name
current-context: slipway-local
YAML
  chmod 600 "$file.tmp"
  mv -f "$file.tmp" "$file"
}

# ---------------------------------------------------------------- processes

# etcd keeps its data in memory (tmpfs) where there is one; wiped at every start.
etcd_data() {
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    echo "/dev/shm/slipway-etcd-$(printf '%s' "$state" | md5sum | cut -c1-12)"
  else
    echo "$state/etcd-data"
  fi
}

args_of() { # COMPONENT: its command line, one argument a line
  local c=$1
  case $c in
    etcd)
      printf '%s\n' "$bin/etcd" --name=slipway-local --data-dir="$(etcd_data)" \
        --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
        --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
        --initial-cluster="slipway-local=http://127.0.0.1:$etcd_peer_port" --initial-cluster-state=new \
        --unsafe-no-fsync=true --log-level=warn
      ;;
    kube-apiserver)
      printf '%s\n' "$bin/kube-apiserver" \
        --etcd-servers="http://127.0.0.1:$etcd_port" \
        --bind-address=127.0.0.1 --secure-port="$apiserver_port" \
        --advertise-address=127.0.0.1 --endpoint-reconciler-type=none \
        --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
        --client-ca-file="$pki/ca.crt" \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
        --service-cluster-ip-range="$service_cidr" \
        --authorization-mode=Node,RBAC --allow-privileged=true \
        --kubelet-preferred-address-types=InternalIP \
        --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
        --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
        --requestheader-client-ca-file="$pki/front-proxy-ca.crt" \
        --requestheader-allowed-names=front-proxy-client \
        --requestheader-username-headers=X-Remote-User \
        --requestheader-group-headers=X-Remote-Group \
        --requestheader-extra-headers-prefix=X-Remote-Extra- \
        --proxy-client-cert-file="$pki/front-proxy-client.crt" \
        --proxy-client-key-file="$pki/front-proxy-client.key" \
        --profiling=false
      ;;
    kube-controller-manager)
      printf '%s\n' "$bin/kube-controller-manager" \
        --kubeconfig="$state/controller-manager.kubeconfig" \
        --authentication-kubeconfig="$state/controller-manager.kubeconfig" \
        --authorization-kubeconfig="$state/controller-manager.kubeconfig" \
        --bind-address=127.0.0.1 --secure-port="$kcm_port" \
        --leader-elect=false --use-service-account-credentials=false \
        --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
        --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
        --service-cluster-ip-range="$service_cidr" --cluster-name=slipway-local \
        --node-monitor-grace-period=10m \
        --profiling=false
      ;;
    kube-scheduler)
      printf '%s\n' "$bin/kube-scheduler" \
        --kubeconfig="$state/scheduler.kubeconfig" \
        --authentication-kubeconfig="$state/scheduler.kubeconfig" \
        --authorization-kubeconfig="$state/scheduler.kubeconfig" \
        --bind-address=127.0.0.1 --secure-port="$scheduler_port" \
        --leader-elect=false --profiling=false
      ;;
    kwok)
      printf '%s\n' "$bin/kwok" --kubeconfig="$state/kwok.kubeconfig" \
        --manage-all-nodes=false \
        --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
        --node-ip=127.0.0.1 --node-port="$kwok_port" \
        --server-address="127.0.0.1:$kwok_port" \
        --tls-cert-file="$pki/kwok-serving.crt" --tls-private-key-file="$pki/kwok-serving.key"
      local f
      for f in "${kwok_stage_files[@]}"; do echo "--config=$stages/$f"; done
      echo "--config=$state/kwok-logs.yaml"
      ;;
  esac
}

port_of() {
  case $1 in
    etcd) echo "$etcd_port" ;;
    kube-apiserver) echo "$apiserver_port" ;;
    kube-controller-manager) echo "$kcm_port" ;;
    kube-scheduler) echo "$scheduler_port" ;;
    kwok) echo "$kwok_port" ;;
  esac
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

launch() {
  local c=$1 args=()
  mapfile -t args < <(args_of "$c")
  if listening "$(port_of "$c")"; then
    fail "$c" "port 127.0.0.1:$(port_of "$c") is already in use by another process"
  fi
  printf '%s\0' "${args[@]}" >"$state/$c.cmdline"
  launched+=("$c")
  # HOME points at the state directory so that no user config (~/.kwok) leaks in.
  mkdir -p "$state/home"
  HOME=$state/home setsid "${args[@]}" >"$state/$c.log" 2>&1 </dev/null 8>&- 9>&- &
  local pid=$! i
  echo "$pid" >"$state/$c.pid"
  # The recorded command line only matches once setsid has exec'd the binary.
  for i in $(seq 1 100); do
    running "$c" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  running "$c" || fail "$c" "did not start"
}

# fail COMPONENT MESSAGE: show the component's log, stop what was started, exit.
fail() {
  local c=$1
  log "$c: $2"
  if [ -s "$state/$c.log" ]; then
    log "last lines of $state/$c.log:"
    tail -n 30 "$state/$c.log" >&2
  fi
  stop_all >/dev/null 2>&1 || true
  exit 1
}

kubectl_() { "$bin/kubectl" --kubeconfig="$kubeconfig" --request-timeout=5s "$@"; }

# wait_for COMPONENT WHAT CMD...: poll CMD until it succeeds, COMPONENT stays alive.
wait_for() {
  local c=$1 what=$2
  shift 2
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    local x
    for x in "${launched[@]}"; do
      running "$x" || fail "$x" "exited while waiting for $what"
    done
    awk -v a="$t_start" -v b="$(now)" -v t="$start_timeout" 'BEGIN { exit !(b - a > t) }' &&
      fail "$c" "timed out after ${start_timeout}s waiting for $what"
    sleep 0.2
  done
}

node_manifest() {
  local i
  for i in $(seq 1 "$nodes"); do
    cat <<YAML
---
apiVersion: v1
kind: Node
metadata:
  name: slipway-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: slipway-node-$i
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    type: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
    kubeletVersion: $k8s_version
YAML
  done
}

# write_kwok_config: kwok's kubeconfig and the logs it serves.
write_kwok_config() {
  write_kubeconfig "$state/kwok.kubeconfig" kwok
  # No container runs: `kubectl logs` answers with this file for every container.
  # (CRI log format: time, stream, tag, text.)
  printf '%s stdout F %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" \
    "simulated container (kwok): no process runs, so there is no real output" >"$state/pod.log"
  cat >"$state/kwok-logs.yaml" <<YAML
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: slipway-simulated-logs
spec:
  selector: {}
  logs:
  - logsFile: $state/pod.log
    previousLogsFile: $state/pod.log
    follow: false
YAML
}

start() {
  local c n=0
  for c in "${components[@]}"; do running "$c" && n=$((n + 1)); done
  if [ "$kwok" = 0 ] && running kwok; then
    # Its simulated nodes would take the pods meant for the real node.
    log "kwok runs (started with SLIPWAY_KWOK=1); restarting without it"
    stop_all
  elif [ "$n" -eq ${#components[@]} ]; then
    log "already running"
    env_
    return 0
  elif [ "$n" -gt 0 ]; then
    log "only some components run; restarting all"
    stop_all
  fi
  install
  t_start=$(now)
  mkdir -p "$state"
  rm -f "$state"/*.pid "$state"/*.cmdline "$state"/*.log
  make_pki
  write_kubeconfig "$kubeconfig" admin
  write_kubeconfig "$state/controller-manager.kubeconfig" controller-manager
  write_kubeconfig "$state/scheduler.kubeconfig" scheduler
  [ "$kwok" = 0 ] || write_kwok_config
  rm -rf "$(etcd_data)"
  mkdir -p "$(etcd_data)"
  chmod 700 "$(etcd_data)"

  launch etcd
  wait_for etcd "etcd on 127.0.0.1:$etcd_port" listening "$etcd_port"
  launch kube-apiserver
  wait_for kube-apiserver "the API to be ready" kubectl_ get --raw /readyz
  log "API ready on https://127.0.0.1:$apiserver_port after $(since "$t_start") s"
  launch kube-controller-manager
  launch kube-scheduler
  [ "$kwok" = 0 ] || launch kwok
  if [ "$nodes" -gt 0 ]; then
    node_manifest >"$state/nodes.yaml"
    wait_for kube-apiserver "the nodes to be created" kubectl_ apply -f "$state/nodes.yaml"
    wait_for kwok "a node to be Ready" node_ready
  fi
  wait_for kube-controller-manager "the default ServiceAccount" kubectl_ -n default get serviceaccount default
  wait_for kube-scheduler "the scheduler on 127.0.0.1:$scheduler_port" listening "$scheduler_port"
  log "cluster ready after $(since "$t_start") s (context slipway-local, kubectl: $bin/kubectl)"
  env_
}

node_ready() {
  kubectl_ get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -qx True
}

stop_all() {
  local i
  for ((i = ${#all_components[@]} - 1; i >= 0; i--)); do stop_one "${all_components[$i]}"; done
  rm -rf "$(etcd_data)"
}

status() {
  local c n=0
  for c in "${components[@]}"; do
    if running "$c"; then
      echo "$c running (pid $(cat "$state/$c.pid"), 127.0.0.1:$(port_of "$c"))"
      n=$((n + 1))
    else
      echo "$c stopped"
    fi
  done
  [ "$n" -eq ${#components[@]} ]
}

env_() { echo "export KUBECONFIG=$kubeconfig"; }

# ---------------------------------------------------------------- main

cmd=${1:-status}
shift || true
case $cmd in
  start | stop) serialise "$state" ;; # starts and stops on one state directory take turns
esac
case $cmd in
  install) install ;;
  install-node) with_node=1; install ;;
  start) start ;;
  stop) stop_all ;;
  status) status ;;
  env) env_ ;;
  bin) echo "$bin" ;;
  *) echo "usage: $0 install|install-node|start|stop|status|env|bin" >&2; exit 2 ;;
esac
