#!/usr/bin/env bash
# A real Kubernetes node for Slipway's end-to-end tests: containerd, runc,
# the CNI bridge, kubelet and kube-proxy, joined to the control plane of
# hack/testenv/k8s.sh (start that first, with the same SLIPWAY_TESTENV and
# ports, and SLIPWAY_NODES=0 so that no simulated node takes pods). Real
# containers run; real probes pass or fail; a Service's
# ClusterIP answers through kube-proxy.
#
#   node.sh install     build or fetch what the node needs (once per version)
#   node.sh start       start the node, wait until it is Ready; prints
#                       `export KUBECONFIG=...` and the registry the node pulls from
#   node.sh stop        stop it and undo everything it did to the host; also
#                       after a crash (everything killed with -9)
#   node.sh status      which components run
#   node.sh env         print the exports of start
#   node.sh exec CMD... run CMD inside the node's network namespace
#   node.sh proxy-stop  stop kube-proxy and drop its rules (for the guard test)
#   node.sh proxy-start start kube-proxy again
#   node.sh kill C      SIGKILL component C (containerd, kubelet, kube-proxy),
#                       as a crash would (for the fault tests)
#   node.sh revive C    start component C again and wait until it is healthy
#   node.sh snapshot    print the host state stop must restore (sysctls,
#                       links, addresses, routes, iptables, mounts, host
#                       paths, cgroups, processes of the node's binaries)
#
# Isolation: nothing may leave the machine. The node runs in a network
# namespace of its own (a file under the state directory) that has no route
# out: its only links are the CNI bridge (pods, node IP 10.88.0.1) and a veth
# pair to the host. The host routes the pod and service CIDRs into that veth;
# before anything else exists it adds `unreachable` routes for both CIDRs, so
# that a packet for a pod or ClusterIP fails at once on the host, rather than
# following the default route, whatever state the node is in, and a host
# iptables chain (SLIPWAY-NODE-HOST, in OUTPUT and FORWARD) that DROPs
# traffic to or from those CIDRs leaving by any link but that veth. Inside the
# namespace there is no default route, and iptables rejects anything
# forwarded or sent out of any link but the bridge, loopback, or the veth
# towards the host's own address. The CNI config has ipMasq false. The
# control plane and registry stay on the host's 127.0.0.1: socat relays the
# namespace's 127.0.0.1:PORT to them through unix sockets.
#
# Parts and why:
#   kubelet, kube-proxy  built from k8s.io/kubernetes by `k8s.sh install-node`,
#                        cached beside the control plane's binaries
#   containerd v2        built from the Go module proxy (pinned, cached by
#                        version), not Debian's 1.6: kubelet 1.37 drops 1.6,
#                        the Debian package installs a system service, and 1.6
#                        cannot keep pod network namespaces under its state
#                        directory (netns_mounts_under_state_dir)
#   runc                 Debian's (crun 1.8 fails on hybrid cgroups)
#   CNI plugins          Debian's containernetworking-plugins (bridge, host-local)
#   pause image          pause.c from the k8s.io/kubernetes module zip, gcc
#                        -static, pushed to the node's registry (docker-registry
#                        on 127.0.0.1) by plain HTTP calls
#
# Tests: `make test` (as root; `make test-node` for these alone) runs
# internal/testenv's TestRealNode* with SLIPWAY_REALNODE=1: the guards (a ClusterIP with kube-proxy stopped, a
# pod dialling an outside address, pods and ClusterIPs with the veth gone:
# each fails on this machine within 2 s), a host snapshot before start equal
# to the one after stop (also after everything was killed with -9), and
# examples/hello-go deployed by slipway and answering through its ClusterIP,
# verdicts against the real kubelet, and no request lost during rolling
# deploys under load. `make demo` as root uses the node too. Measured here: node Ready ~4 s after the
# control plane; two pods Ready with a cold pull ~2-3 s; stop ~2-5 s.
#
# Host side effects, all undone by stop: the unreachable guard routes, the
# SLIPWAY-NODE-HOST chain and its jumps, and the
# veth's host end; the namespace file's mount and every mount under the state
# directory; cgroups under /slipway-node (the kubelet's cgroupRoot); the
# sysctls the kubelet sets (vm.overcommit_memory, vm.panic_on_oom,
# kernel.panic, kernel.panic_on_oops, kernel.keys.root_max*), recorded before
# start; /var/log/containers, /var/lib/kubelet, /var/lib/cni and /run/containerd entries (the
# directories are removed when start found them missing). Needs root.
#
# Environment (the control plane's, see k8s.sh): SLIPWAY_TESTENV, SLIPWAY_CACHE,
# SLIPWAY_K8S_VERSION, SLIPWAY_APISERVER_PORT (16443). The node's own:
#   SLIPWAY_CONTAINERD_VERSION (v2.4.2)  SLIPWAY_NODE_NAME (slipway-real-node)
#   SLIPWAY_NODE_REGISTRY_PORT (15050)   SLIPWAY_START_TIMEOUT (seconds, 90)
#   SLIPWAY_NODE_PULL_PORTS  more registries on the host's 127.0.0.1 the node
#                            may pull from (plain HTTP), e.g. "5001"; the caller
#                            runs them
# The registry on SLIPWAY_NODE_REGISTRY_PORT holds the pause image; start
# starts it unless one already answers there, and stop stops it (and removes
# its data) only when start started it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
k8s_version=${SLIPWAY_K8S_VERSION:-v1.36.3}
ctr_version=${SLIPWAY_CONTAINERD_VERSION:-v2.4.2}
cache_root=${SLIPWAY_CACHE:-${HOME:-/root}/.cache/slipway}
testenv=${SLIPWAY_TESTENV:-/tmp/slipway-testenv}
case $cache_root in /*) ;; *) cache_root=$PWD/$cache_root ;; esac
case $testenv in /*) ;; *) testenv=$PWD/$testenv ;; esac

k8s_bin=$cache_root/testenv/k8s-$k8s_version/bin
ctr_bin=$cache_root/testenv/containerd-$ctr_version/bin
pause_bin=$cache_root/testenv/pause-$k8s_version/pause
state=$testenv/node
cp_pki=$testenv/k8s/pki
admin_kubeconfig=$testenv/kubeconfig
apiserver_port=${SLIPWAY_APISERVER_PORT:-16443}
registry_port=${SLIPWAY_NODE_REGISTRY_PORT:-15050}
registry=127.0.0.1:$registry_port
node_name=${SLIPWAY_NODE_NAME:-slipway-real-node}
start_timeout=${SLIPWAY_START_TIMEOUT:-90}
pause_image=$registry/slipway/pause:3.10-$k8s_version

# Addresses. The service CIDR is the control plane's (k8s.sh).
pod_cidr=10.88.0.0/16
node_ip=10.88.0.1
service_cidr=10.96.0.0/16
link_cidr=10.89.0.0/30
host_ip=10.89.0.1
ns_ip=10.89.0.2
bridge=slwbr0
veth_host=slw-host
veth_node=slw-node
guard_metric=4242
host_chain=SLIPWAY-NODE-HOST
cgroup_root=/slipway-node
cni_network=slipway-node

netns=$state/netns
# containerd's shims listen on sockets in a directory whose path must stay
# under 42 characters, so not under the state directory.
shim_dir=/run/slipway-node-$(printf '%s' "$state" | md5sum | cut -c1-8)
ctr_dir=$state/containerd
ctr_sock=$ctr_dir/containerd.sock
kubelet_dir=$state/kubelet
pod_logs=$state/pod-logs
run=$state/run
proc_dir=$run
# shellcheck source=hack/lib/proc.sh
source "$here/../lib/proc.sh"
logs=$state/logs
pki=$state/pki

# Host paths the kubelet or CNI write outside the state directory.
# /run/containerd: a shim whose containerd died cleans its containers up
# with runc's default root there, whatever the runtime's Root says.
host_paths=(/var/log/containers /var/lib/kubelet /var/lib/cni /run/containerd)
# Sysctls the kubelet sets on the host (its kernel defaults).
host_sysctls=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
apt_packages=(containernetworking-plugins iptables runc socat gcc libc6-dev curl docker-registry openssl)

pull_ports=${SLIPWAY_NODE_PULL_PORTS:-}
for p in $pull_ports; do
  [[ $p =~ ^[0-9]{1,5}$ ]] && [ "$p" != "$registry_port" ] && [ "$p" != "$apiserver_port" ] ||
    { echo "node.sh: SLIPWAY_NODE_PULL_PORTS: $p is not a port of its own" >&2; exit 2; }
done

# Start order; stop goes the other way. A run's relays for more registries
# are recorded in $run/pull-ports, so that stop finds them without the
# environment start had.
relays=(fwd-api-host fwd-api-node fwd-registry-host fwd-registry-node)
set_components() {
  local p
  relays=(fwd-api-host fwd-api-node fwd-registry-host fwd-registry-node)
  for p in $pull_ports; do relays+=("fwd-pull-host-$p" "fwd-pull-node-$p"); done
  components=("${relays[@]}" containerd kubelet kube-proxy)
}
set_components

log() { echo "node.sh: $*" >&2; }
die() { log "$*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
in_node() { nsenter --net="$netns" -- "$@"; }

need_root() { [ "$(id -u)" -eq 0 ] || die "the real node needs root (network namespace, cgroups, mounts)"; }

# ---------------------------------------------------------------- install

installed() {
  local f
  for f in "$k8s_bin/kubelet" "$k8s_bin/kube-proxy" "$k8s_bin/kubectl" "$ctr_bin/containerd" \
    "$ctr_bin/containerd-shim-runc-v2" "$pause_bin"; do
    [ -x "$f" ] || return 1
  done
}

install() {
  "$here/../install-deps.sh" "${apt_packages[@]}"
  installed && return 0
  command -v go >/dev/null || die "go is not installed"
  "$here/k8s.sh" install-node
  mkdir -p "$ctr_bin"
  exec 8>"$ctr_bin/.lock"
  flock 8
  local work t0 c
  work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-node-build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # Outside any module: the project's go.mod is never read or written.
  cd "$work"
  for c in containerd containerd-shim-runc-v2; do
    [ -x "$ctr_bin/$c" ] && continue
    t0=$(now)
    log "building $c (github.com/containerd/containerd/v2@$ctr_version)"
    GOBIN=$ctr_bin GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0 nice -n 10 go install -p 2 -trimpath \
      -tags "no_btrfs no_devmapper no_zfs" \
      -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$ctr_version" \
      "github.com/containerd/containerd/v2/cmd/$c@$ctr_version"
    log "built $c in $(since "$t0") s"
  done
  if [ ! -x "$pause_bin" ]; then
    # registry.k8s.io is out of reach: compile Kubernetes' own pause.c, which
    # ships in the k8s.io/kubernetes module.
    local dir src
    dir=$(GOWORK=off GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$k8s_version" |
      sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    src=$dir/build/pause/linux/pause.c
    [ -f "$src" ] || die "no build/pause/linux/pause.c in k8s.io/kubernetes@$k8s_version"
    mkdir -p "$(dirname "$pause_bin")"
    gcc -Os -Wall -Werror -static -DVERSION="$k8s_version-slipway" -o "$pause_bin.tmp" "$src"
    strip "$pause_bin.tmp"
    mv -f "$pause_bin.tmp" "$pause_bin"
    log "built $pause_bin"
  fi
  cd /
  rm -rf "$work"
  trap - EXIT
  exec 8>&-
  installed || die "install finished but something is missing"
}

# ---------------------------------------------------------------- pause image

# push_blob FILE: upload FILE to the registry's slipway/pause repository.
push_blob() {
  local file=$1 digest loc
  digest=sha256:$(sha256sum "$file" | cut -d' ' -f1)
  if curl -fsS -o /dev/null -I "http://$registry/v2/slipway/pause/blobs/$digest" 2>/dev/null; then
    echo "$digest"
    return 0
  fi
  loc=$(curl -fsS -D - -o /dev/null -X POST "http://$registry/v2/slipway/pause/blobs/uploads/" |
    tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  [ -n "$loc" ] || die "the registry $registry gave no upload location"
  case $loc in http*) ;; *) loc=http://$registry$loc ;; esac
  case $loc in *\?*) loc="$loc&digest=$digest" ;; *) loc="$loc?digest=$digest" ;; esac
  curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$file" "$loc"
  echo "$digest"
}

# push_pause: the pause binary as a one-layer OCI image, by the registry API.
push_pause() {
  local dir=$state/pause layer diff_id config manifest
  rm -rf "$dir"
  mkdir -p "$dir/rootfs"
  cp "$pause_bin" "$dir/rootfs/pause"
  tar --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$dir/rootfs" -cf "$dir/layer.tar" pause
  diff_id=sha256:$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)
  gzip -n -c "$dir/layer.tar" >"$dir/layer.tar.gz"
  printf '{"architecture":"%s","os":"linux","config":{"Entrypoint":["/pause"],"User":"65535:65535"},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
    "$(go env GOARCH)" "$diff_id" >"$dir/config.json"
  layer=$(push_blob "$dir/layer.tar.gz")
  config=$(push_blob "$dir/config.json")
  manifest=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
    "$config" "$(stat -c %s "$dir/config.json")" "$layer" "$(stat -c %s "$dir/layer.tar.gz")")
  curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "$manifest" "http://$registry/v2/slipway/pause/manifests/${pause_image##*:}"
  rm -rf "$dir"
}

# ---------------------------------------------------------------- certificates

# cert NAME SUBJECT EXTENSIONS: a key and certificate signed by the control plane's CA.
cert() {
  local name=$1 subj=$2 ext=$3
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$name.key" 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "$ext" >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$cp_pki/ca.crt" -CAkey "$cp_pki/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 30 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}

# kubeconfig FILE CERTNAME: the API through the namespace's 127.0.0.1 relay.
kubeconfig() {
  cat >"$1" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: slipway-local
  cluster:
    server: https://127.0.0.1:$apiserver_port
    certificate-authority-data: $(base64 -w0 "$cp_pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$pki/$2.crt")
    client-key-data: $(base64 -w0 "$pki/$2.key")
contexts:
- name: slipway-local
  context: {cluster: slipway-local, user: $2}
current-context: slipway-local
YAML
  chmod 600 "$1"
}

make_pki() {
  rm -rf "$pki"
  mkdir -p "$pki"
  chmod 700 "$pki"
  local client="keyUsage=critical,digitalSignature"$'\n'"extendedKeyUsage=clientAuth"
  local server="keyUsage=critical,digitalSignature,keyEncipherment"$'\n'"extendedKeyUsage=serverAuth"
  cert kubelet "/O=system:nodes/CN=system:node:$node_name" "$client"
  cert kubelet-serving "/CN=$node_name" "$server"$'\n'"subjectAltName=IP:$node_ip,DNS:$node_name"
  cert kube-proxy "/CN=system:kube-proxy" "$client"
  kubeconfig "$state/kubelet.kubeconfig" kubelet
  kubeconfig "$state/kube-proxy.kubeconfig" kube-proxy
}

# ---------------------------------------------------------------- config files

write_configs() {
  mkdir -p "$ctr_dir/certs.d/$registry" "$state/cni/net.d" "$state/cni/ipam" "$pod_logs" "$kubelet_dir"
  cat >"$ctr_dir/config.toml" <<TOML
# containerd $ctr_version for Slipway's test node: every path under $state.
version = 3
root = "$ctr_dir/root"
state = "$ctr_dir/state"
temp = "$ctr_dir/tmp"
oom_score = 0

[grpc]
  address = "$ctr_sock"

[ttrpc]
  address = "$ctr_sock.ttrpc"

[debug]
  level = "info"

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = "$ctr_dir/opt"
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
  [plugins.'io.containerd.shim.v1.manager']
    socket_dir = "$shim_dir"
  [plugins.'io.containerd.transfer.v1.local']
    config_path = "$ctr_dir/certs.d"
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '$pause_image'
    [plugins.'io.containerd.cri.v1.images'.registry]
      config_path = "$ctr_dir/certs.d"
  [plugins.'io.containerd.cri.v1.runtime']
    enable_selinux = false
    disable_apparmor = true
    # root here lacks CAP_SYS_RESOURCE: without this every sandbox fails.
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    cdi_spec_dirs = []
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = "$(command -v runc)"
          Root = "$ctr_dir/runc"
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['/usr/lib/cni']
      conf_dir = "$state/cni/net.d"
      max_conf_num = 1
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
TOML
  local r
  for r in "$registry" $(printf '127.0.0.1:%s ' $pull_ports); do
    mkdir -p "$ctr_dir/certs.d/$r"
    cat >"$ctr_dir/certs.d/$r/hosts.toml" <<TOML
server = "http://$r"

[host."http://$r"]
  capabilities = ["pull", "resolve"]
TOML
  done
  cat >"$state/cni/net.d/10-$cni_network.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$cni_network",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$pod_cidr", "gateway": "$node_ip"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$state/cni/ipam"
      }
    }
  ]
}
JSON
  cat >"$state/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $node_ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $cp_pki/ca.crt}
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$ctr_sock
cgroupDriver: cgroupfs
cgroupRoot: $cgroup_root
failCgroupV1: false
failSwapOn: false
podLogsDir: $pod_logs
serializeImagePulls: false
imageGCHighThresholdPercent: 95
imageGCLowThresholdPercent: 90
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "2%"
  nodefs.inodesFree: "2%"
  imagefs.available: "2%"
maxPods: 30
resolvConf: ""
clusterDomain: cluster.local
# No DNS server runs here; an address in the guarded service CIDR keeps the
# kubelet from warning MissingClusterDNS on every pod, and lookups fail locally.
clusterDNS: [10.96.0.10]
registerNode: true
rotateCertificates: false
serverTLSBootstrap: false
nodeStatusUpdateFrequency: 10s
syncFrequency: 10s
fileCheckFrequency: 20s
runtimeRequestTimeout: 2m
YAML
  cat >"$state/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $state/kube-proxy.kubeconfig
hostnameOverride: $node_name
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clusterCIDR: $pod_cidr
mode: iptables
iptables:
  localhostNodePorts: false
  masqueradeAll: false
  syncPeriod: 10s
  minSyncPeriod: 0s
# Zeros keep kube-proxy off the host's conntrack sysctls.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
nodePortAddresses: ["$node_ip/32"]
YAML
}

# ---------------------------------------------------------------- network

# preflight: the node's CIDRs must be free on this host (a podman or docker
# network may hold 10.88.0.0/16); its route would win over the node's.
preflight() {
  local c
  for c in "$pod_cidr" "$service_cidr" "$link_cidr"; do
    if ip -o route show root "$c" | grep -qv " metric $guard_metric" || [ -n "$(ip -o addr show to "$c")" ]; then
      die "$c is in use on this host ($(ip -o route show root "$c" | head -n 1)); the real node needs it"
    fi
  done
}

# guard: unreachable routes for the pod and service CIDRs on the host, first
# of all; the routes into the node's veth (a lower metric) take precedence
# only while the veth exists.
guard() {
  local c
  echo 1 >"$run/guard"
  for c in "$pod_cidr" "$service_cidr"; do
    ip route replace unreachable "$c" metric "$guard_metric"
  done
  # And DROP rules, as a second wall whatever the routes: host traffic to the
  # pod or service CIDRs, or forwarded from them, leaves by the node's veth
  # or not at all.
  iptables -w -N "$host_chain" 2>/dev/null || iptables -w -F "$host_chain"
  for c in "$pod_cidr" "$service_cidr"; do
    iptables -w -A "$host_chain" -d "$c" ! -o "$veth_host" -j DROP
    iptables -w -A "$host_chain" -s "$c" ! -o "$veth_host" -j DROP
  done
  iptables -w -I OUTPUT -j "$host_chain"
  iptables -w -I FORWARD -j "$host_chain"
}

# unguard removes guard's rules and routes.
unguard() {
  local c
  for c in "$pod_cidr" "$service_cidr"; do
    ip route del unreachable "$c" metric "$guard_metric" 2>/dev/null || true
  done
  while iptables -w -D OUTPUT -j "$host_chain" 2>/dev/null; do :; done
  while iptables -w -D FORWARD -j "$host_chain" 2>/dev/null; do :; done
  iptables -w -F "$host_chain" 2>/dev/null || true
  iptables -w -X "$host_chain" 2>/dev/null || true
}

# netns_up: the namespace, its links, its addresses, its firewall.
netns_up() {
  touch "$netns"
  unshare --net="$netns" true
  stat -L -c %i "$netns" >"$run/netns.inode"
  in_node ip link set lo up
  in_node sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip link add "$veth_host" type veth peer name "$veth_node"
  ip link set "$veth_node" netns "$netns"
  sysctl -qw "net.ipv6.conf.$veth_host.disable_ipv6=1"
  ip addr add "$host_ip/${link_cidr#*/}" dev "$veth_host"
  ip link set "$veth_host" up
  in_node ip addr add "$ns_ip/${link_cidr#*/}" dev "$veth_node"
  in_node ip link set "$veth_node" up
  in_node ip link add "$bridge" type bridge
  in_node ip addr add "$node_ip/${pod_cidr#*/}" dev "$bridge"
  in_node ip link set "$bridge" up
  # The namespace routes between the bridge and the host; unlimited ICMP
  # errors make every connection to a pod or ClusterIP that has nowhere to go
  # fail at once (the default rate limit lets a burst of them time out).
  in_node sysctl -qw net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0
  # Nothing leaves the namespace but to the bridge, loopback, or the host's
  # own end of the veth. (There is no default route either.)
  in_node iptables -w -N SLIPWAY-NODE-GUARD
  in_node iptables -w -A SLIPWAY-NODE-GUARD -o lo -j RETURN
  in_node iptables -w -A SLIPWAY-NODE-GUARD -o "$bridge" -j RETURN
  in_node iptables -w -A SLIPWAY-NODE-GUARD -o "$veth_node" -d "$host_ip" -j RETURN
  in_node iptables -w -A SLIPWAY-NODE-GUARD -j REJECT --reject-with icmp-net-unreachable
  in_node iptables -w -I FORWARD -j SLIPWAY-NODE-GUARD
  in_node iptables -w -I OUTPUT -j SLIPWAY-NODE-GUARD
  # The host reaches pods and ClusterIPs through the namespace only.
  ip route replace "$pod_cidr" dev "$veth_host" via "$ns_ip" src "$host_ip" metric 100
  ip route replace "$service_cidr" dev "$veth_host" via "$ns_ip" src "$host_ip" metric 100
}

# make_cgroups: the kubelet's cgroupRoot in every cgroup v1 hierarchy (the
# kubelet requires it to exist; cpuset needs its cpus and mems filled in).
make_cgroups() {
  local h
  for h in /sys/fs/cgroup/*; do
    if [ ! -f "$h/cgroup.procs" ] || [ "${h##*/}" = unified ]; then continue; fi
    mkdir -p "$h$cgroup_root"
    if [ -f "$h/cpuset.cpus" ]; then
      cat "$h/cpuset.cpus" >"$h$cgroup_root/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h$cgroup_root/cpuset.mems"
    fi
  done
}

# ---------------------------------------------------------------- processes

args_of() { # COMPONENT: its command line, one argument a line
  case $1 in
    fwd-api-host) printf '%s\n' "$(command -v socat)" "UNIX-LISTEN:$run/api.sock,fork,unlink-early,mode=600" "TCP:127.0.0.1:$apiserver_port" ;;
    fwd-api-node) printf '%s\n' "$(command -v socat)" "TCP-LISTEN:$apiserver_port,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$run/api.sock" ;;
    fwd-registry-host) printf '%s\n' "$(command -v socat)" "UNIX-LISTEN:$run/registry.sock,fork,unlink-early,mode=600" "TCP:$registry" ;;
    fwd-registry-node) printf '%s\n' "$(command -v socat)" "TCP-LISTEN:$registry_port,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$run/registry.sock" ;;
    fwd-pull-host-*) printf '%s\n' "$(command -v socat)" "UNIX-LISTEN:$run/pull-${1##*-}.sock,fork,unlink-early,mode=600" "TCP:127.0.0.1:${1##*-}" ;;
    fwd-pull-node-*) printf '%s\n' "$(command -v socat)" "TCP-LISTEN:${1##*-},bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$run/pull-${1##*-}.sock" ;;
    containerd) printf '%s\n' "$ctr_bin/containerd" --config="$ctr_dir/config.toml" ;;
    kubelet)
      printf '%s\n' "$k8s_bin/kubelet" --config="$state/kubelet.yaml" --kubeconfig="$state/kubelet.kubeconfig" \
        --hostname-override="$node_name" --node-ip="$node_ip" --root-dir="$kubelet_dir" --cert-dir="$pki" --v=1
      ;;
    kube-proxy) printf '%s\n' "$k8s_bin/kube-proxy" --config="$state/kube-proxy.yaml" --v=1 ;;
  esac
}

# in_namespace COMPONENT: does it run inside the node's network namespace?
in_namespace() { case $1 in fwd-*-host | fwd-*-host-*) return 1 ;; *) return 0 ;; esac; }

launch() {
  local c=$1 args=() pid i
  mapfile -t args < <(args_of "$c")
  printf '%s\0' "${args[@]}" >"$run/$c.cmdline"
  if in_namespace "$c"; then
    # containerd finds its shim on PATH.
    PATH=$ctr_bin:$PATH setsid nsenter --net="$netns" -- "${args[@]}" >"$logs/$c.log" 2>&1 </dev/null 8>&- 9>&- &
  else
    setsid "${args[@]}" >"$logs/$c.log" 2>&1 </dev/null 8>&- 9>&- &
  fi
  pid=$!
  echo "$pid" >"$run/$c.pid"
  for i in $(seq 1 100); do
    running "$c" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  running "$c" || fail "$c" "did not start"
}

fail() {
  local c=$1
  log "$c: $2"
  if [ -s "$logs/$c.log" ]; then
    log "last lines of $logs/$c.log:"
    tail -n 30 "$logs/$c.log" >&2
  fi
  teardown >/dev/null 2>&1 || true
  exit 1
}

wait_for() { # COMPONENT WHAT CMD...
  local c=$1 what=$2 x
  shift 2
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    for x in "${launched[@]}"; do running "$x" || fail "$x" "exited while waiting for $what"; done
    awk -v a="$t_start" -v b="$(now)" -v t="$start_timeout" 'BEGIN { exit !(b - a > t) }' &&
      fail "$c" "timed out after ${start_timeout}s waiting for $what"
    sleep 0.2
  done
}

kubectl_() { "$k8s_bin/kubectl" --kubeconfig="$admin_kubeconfig" --request-timeout=5s "$@"; }

node_ready() {
  [ "$(kubectl_ get node "$node_name" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

# start_component C: launch containerd, kubelet or kube-proxy and wait
# until it is healthy.
start_component() {
  local c=$1
  launched+=("$c")
  launch "$c"
  case $c in
    containerd) wait_for containerd "containerd's socket" containerd_up ;;
    kubelet) wait_for kubelet "the kubelet's health and node $node_name Ready" kubelet_healthy ;;
    kube-proxy) wait_for kube-proxy "kube-proxy's health" proxy_healthy ;;
  esac
}

node_component() { # C: dies unless C is one start_component knows
  case $1 in containerd | kubelet | kube-proxy) ;; *) die "$cmd: name containerd, kubelet or kube-proxy" ;; esac
}

# kill_component C: SIGKILL C, as a crash would.
kill_component() {
  local c=$1 pid
  node_component "$c"
  running "$c" || die "$c is not running"
  pid=$(cat "$run/$c.pid")
  kill -KILL "$pid"
  for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
  log "killed $c (pid $pid)"
}

# revive C: start C again, alone, and wait until it is healthy.
revive() {
  local c=$1
  node_component "$c"
  running "$c" && die "$c is running"
  recorded_components
  launched=()
  t_start=$(now)
  start_component "$c"
  log "$c back after $(since "$t_start") s"
}

kubelet_healthy() { in_node curl -fsS -m 1 -o /dev/null http://127.0.0.1:10248/healthz && node_ready; }
proxy_healthy() { in_node curl -fsS -m 1 -o /dev/null http://127.0.0.1:10256/healthz; }
containerd_up() { [ -S "$ctr_sock" ] && grep -q 'containerd successfully booted' "$logs/containerd.log"; }

# ---------------------------------------------------------------- start

record_host() {
  # Written once per start; a start after a crash runs teardown first, which
  # restores from these and removes them.
  local s p
  : >"$run/sysctl-before"
  for s in "${host_sysctls[@]}"; do
    printf '%s=%s\n' "$s" "$(sysctl -n "$s")" >>"$run/sysctl-before"
  done
  : >"$run/paths-before"
  for p in "${host_paths[@]}"; do [ -e "$p" ] && echo "$p" >>"$run/paths-before"; done
  return 0
}

start() {
  need_root
  local c n=0
  for c in "${components[@]}"; do running "$c" && n=$((n + 1)); done
  if [ "$n" -eq ${#components[@]} ]; then
    log "already running"
    env_
    return 0
  fi
  if [ "$n" -gt 0 ] || [ -e "$run/guard" ] || [ -e "$netns" ]; then
    log "leftovers of an earlier run; cleaning up first"
    teardown
  fi
  install
  if [ ! -s "$cp_pki/ca.key" ] || [ ! -s "$admin_kubeconfig" ]; then
    die "no control plane in $testenv; start it first: SLIPWAY_TESTENV=$testenv hack/testenv/k8s.sh start"
  fi
  kubectl_ get --raw /readyz >/dev/null 2>&1 || die "the control plane in $testenv does not answer on 127.0.0.1:$apiserver_port"
  t_start=$(now)
  launched=()
  mkdir -p "$run" "$logs"
  rm -f "$run"/*.pid "$run"/*.cmdline "$logs"/*.log
  # Isolation before anything else.
  preflight
  guard
  record_host
  netns_up
  log "network namespace, bridge $bridge ($node_ip) and guards ready after $(since "$t_start") s"
  echo "$pull_ports" >"$run/pull-ports"
  if curl -fsS -o /dev/null "http://$registry/v2/" 2>/dev/null; then
    log "pulling from the registry already on $registry"
  else
    # (fd 9, the lock, must not stay open in the registry process.)
    SLIPWAY_TESTENV=$testenv "$here/registry.sh" start "$registry_port" 2>/dev/null 9>&-
    echo "$registry_port" >"$run/registry"
  fi
  push_pause
  make_pki
  write_configs
  make_cgroups
  for c in "${relays[@]}"; do launch "$c"; launched+=("$c"); done
  start_component containerd
  log "containerd $ctr_version up after $(since "$t_start") s"
  start_component kubelet
  log "node $node_name Ready after $(since "$t_start") s"
  start_component kube-proxy
  log "node ready after $(since "$t_start") s (pods $pod_cidr, services $service_cidr, registry $registry)"
  env_
}

# ---------------------------------------------------------------- stop

# ours_in_netns: PIDs whose network namespace is the node's (containerd's
# shims and the relays, even after their parents were killed).
ours_in_netns() {
  local ino p
  ino=$(cat "$run/netns.inode" 2>/dev/null) || return 0
  [ -n "$ino" ] || return 0
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/net" 2>/dev/null)" = "net:[$ino]" ] && echo "${p#/proc/}"
  done
  return 0
}

# ours_in_cgroups: PIDs in the kubelet's cgroupRoot (the containers).
ours_in_cgroups() {
  local f
  for f in /sys/fs/cgroup/*/"${cgroup_root#/}"; do
    [ -d "$f" ] && find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null
  done
  return 0
}

kill_leftovers() {
  local i pids
  for i in $(seq 1 50); do
    pids=$({ ours_in_cgroups; ours_in_netns; } | sort -u)
    [ -z "$pids" ] && return 0
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  log "processes left in the node's namespace or cgroups: $pids"
}

# recorded_components: the components of the run recorded in $run, when
# there is one, whatever this environment says.
recorded_components() {
  if [ -f "$run/pull-ports" ]; then
    pull_ports=$(cat "$run/pull-ports")
    set_components
  fi
}

teardown() {
  local c i wanted=$pull_ports
  mkdir -p "$run"
  recorded_components
  # The Node object, when the control plane still answers (no wait, no retry).
  if [ -f "$run/kubelet.pid" ] && [ -s "$admin_kubeconfig" ]; then
    kubectl_ delete node "$node_name" --wait=false >/dev/null 2>&1 || true
  fi
  for ((i = ${#components[@]} - 1; i >= 0; i--)); do stop_one "${components[$i]}"; done
  # Containers, shims and relays the recorded PIDs no longer cover.
  kill_leftovers
  # The CNI plugins cache results in /var/lib/cni by sandbox: note the IDs.
  local ids
  ids=$(find "$ctr_dir/root/io.containerd.grpc.v1.cri/sandboxes" "$ctr_dir/state/io.containerd.grpc.v1.cri/sandboxes" \
    "$ctr_dir/state/io.containerd.runtime.v2.task/k8s.io" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -u) || true
  # Mounts under the state directory (rootfs, shm, tokens, pod netns), deepest first.
  local m
  for i in 1 2 3; do
    awk -v s="$state/" 'index($5, s) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
  done
  # The namespace is gone with its last mount and process; so are its bridge
  # and veth. The host's end goes with it, unless something is still stuck.
  ip link del "$veth_host" 2>/dev/null || true
  ip route del "$pod_cidr" dev "$veth_host" 2>/dev/null || true
  ip route del "$service_cidr" dev "$veth_host" 2>/dev/null || true
  rm -f "$netns" "$run/netns.inode"
  # cgroups under the kubelet's cgroupRoot, deepest first.
  local h
  for h in /sys/fs/cgroup/*/"${cgroup_root#/}"; do
    [ -d "$h" ] && find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  for h in /sys/fs/cgroup/*/"${cgroup_root#/}"; do [ -d "$h" ] && log "cgroup left: $h"; done
  # Sysctls the kubelet changed.
  if [ -f "$run/sysctl-before" ]; then
    local kv
    while read -r kv; do
      [ "$(sysctl -n "${kv%%=*}")" = "${kv#*=}" ] || sysctl -qw "$kv"
    done <"$run/sysctl-before"
    rm -f "$run/sysctl-before"
  fi
  # Host paths: the node's entries, then the directories start found missing.
  find /var/log/containers -maxdepth 1 -type l -lname "$state/*" -delete 2>/dev/null || true
  rm -f /var/lib/cni/results/"$cni_network"-* 2>/dev/null || true
  for i in $ids; do rm -f /var/lib/cni/results/*-"$i"-* 2>/dev/null || true; done
  rm -f /var/lib/kubelet/device-plugins/kubelet.sock /var/lib/kubelet/device-plugins/DEPRECATION 2>/dev/null || true
  local p
  for p in "${host_paths[@]}"; do
    if [ -f "$run/paths-before" ] && ! grep -qxF "$p" "$run/paths-before"; then
      # Only the node's runc state can be there (no containerd ran before).
      [ "$p" = /run/containerd ] && rm -rf "$p"
      [ -d "$p" ] && find "$p" -depth -type d -empty -delete 2>/dev/null
      [ -e "$p" ] && log "left non-empty: $p"
    fi
  done
  rm -f "$run/paths-before"
  if [ -f "$run/registry" ]; then
    SLIPWAY_TESTENV=$testenv "$here/registry.sh" stop "$(cat "$run/registry")" 2>/dev/null || true
    rm -rf "$testenv/registry-$(cat "$run/registry")" "$run/registry"
  fi
  rm -rf "$ctr_dir" "$kubelet_dir" "$pod_logs" "$state/cni" "$pki" "$run"/*.sock "$shim_dir" "$run/pull-ports"
  pull_ports=$wanted
  set_components
  # The guard goes last: until here a packet for a pod or a ClusterIP fails on the host.
  if [ -f "$run/guard" ]; then
    unguard
    rm -f "$run/guard"
  fi
}

# ---------------------------------------------------------------- other commands

status() {
  local c n=0
  recorded_components
  for c in "${components[@]}"; do
    if running "$c"; then
      echo "$c running (pid $(cat "$run/$c.pid"))"
      n=$((n + 1))
    else
      echo "$c stopped"
    fi
  done
  [ "$n" -eq ${#components[@]} ]
}

env_() {
  echo "export KUBECONFIG=$admin_kubeconfig"
  echo "export SLIPWAY_NODE_REGISTRY=$registry"
}

# snapshot: the host state that stop must leave as start found it.
snapshot() {
  echo "## sysctl"
  sysctl -a 2>/dev/null | grep -vE '^(kernel\.random\.|kernel\.ns_last_pid|kernel\.pty\.nr|fs\.(dentry-state|inode-nr|inode-state|file-nr|aio-nr|quota\.)|net\.netfilter\.nf_conntrack_count|kernel\.perf_event_max_sample_rate|kernel\.sched_domain|vm\.stat)' |
    grep -vE '^net\.(ipv4|ipv6)\.(conf|neigh)\.(veth|cali|cni)' || true
  echo "## links"
  ip -o link show | sed -E 's/^[0-9]+: //; s/ qlen [0-9]+//' | awk '{ print $1, $2 }'
  echo "## addresses"
  ip -o addr show | awk '{ print $2, $3, $4 }'
  echo "## routes"
  ip route show table all
  ip -6 route show table all
  ip rule show
  echo "## iptables"
  if command -v iptables-save >/dev/null; then
    # Rules only: a table that holds none (made by the first use of
    # iptables on this host, and kept) is no change.
    iptables-save 2>/dev/null | sed -E '/^#/d; /^\*/d; /^COMMIT$/d; /^:[A-Z]+ ACCEPT /d; s/\[[0-9]+:[0-9]+\]//'
    ip6tables-save 2>/dev/null | sed -E '/^#/d; /^\*/d; /^COMMIT$/d; /^:[A-Z]+ ACCEPT /d; s/\[[0-9]+:[0-9]+\]//'
  fi
  if command -v nft >/dev/null; then nft list ruleset 2>/dev/null; fi
  echo "## mounts"
  awk '{ print $4, $5, $9, $10 }' /proc/self/mountinfo | sort
  echo "## host paths"
  local p
  for p in "${host_paths[@]}" "$shim_dir" /run/netns /run/containerd /var/run/nri /etc/cni /opt/cni /var/lib/containerd; do
    [ -e "$p" ] && find "$p" | sort
  done
  echo "## cgroups"
  find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d | sort
  echo "## processes of the node's binaries"
  local exe
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    case $exe in "$k8s_bin"/kubelet | "$k8s_bin"/kube-proxy | "$ctr_bin"/* | "$pause_bin") echo "$exe" ;; esac
  done | sort
}

# ---------------------------------------------------------------- main

cmd=${1:-status}
shift || true
case $cmd in
  start | stop | proxy-stop | proxy-start | kill | revive)
    need_root
    serialise "$state"
    ;;
esac
case $cmd in
  install) install ;;
  start) start ;;
  stop) teardown; log "stopped; host restored" ;;
  status) status ;;
  env) env_ ;;
  exec) in_node "$@" ;;
  proxy-stop)
    stop_one kube-proxy
    in_node "$k8s_bin/kube-proxy" --cleanup --v=0 >/dev/null 2>&1 || true
    ;;
  proxy-start) revive kube-proxy ;;
  kill) kill_component "${1:-}" ;;
  revive) revive "${1:-}" ;;
  snapshot) snapshot ;;
  *) echo "usage: $0 install|start|stop|status|env|exec CMD...|proxy-stop|proxy-start|kill C|revive C|snapshot" >&2; exit 2 ;;
esac
