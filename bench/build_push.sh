#!/usr/bin/env bash
# Build an image from a 200 MB tree of files and push it to a local registry,
# Slipway against crane (tar + crane append, which builds and pushes) on the
# same tree and registry, then Slipway's unchanged rebuild and re-push.
#   bench/build_push.sh [RUNS]     (default 3; SIZE_MB=200 FILES=2000)
source "$(dirname "$0")/lib.sh"
runs=${1:-3}; size_mb=${SIZE_MB:-200}; files=${FILES:-2000}
work=$(mktemp -d /tmp/slipway-bench.XXXXXX)
port=${PORT:-5055}
export SLIPWAY_TESTENV=$work/testenv
trap '"$root/hack/testenv/registry.sh" stop "$port" >/dev/null 2>&1; rm -rf "$work"' EXIT

need_slipway; need_crane
"$root/hack/testenv/registry.sh" start "$port" 2>/dev/null

echo "making a ${size_mb} MB tree of $files files" >&2
proj=$work/proj
mkdir -p "$proj/tree"
per=$(( size_mb * 1024 * 1024 / files ))
head -c $(( size_mb * 1024 * 1024 )) /dev/urandom | split -b "$per" -a 4 - "$proj/tree/f"
cat >"$proj/slipway.yaml" <<YAML
apiVersion: slipway/v1
app: bench
image:
  layers: [{from: tree, to: /data}]
registries:
  local: {url: 127.0.0.1:$port/slipway, insecure: true}
YAML
printf '.slipway/\ntree/\n' >"$proj/.gitignore"
git -C "$proj" init -q -b main
git -C "$proj" add -A
git -C "$proj" -c user.name=b -c user.email=b@localhost commit -q -m "feat: bench"

s_cold=(); c_cold=(); s_warm=()
for i in $(seq 1 "$runs"); do
  # Each run pushes to a new repository, so nothing is already there.
  sed -i "s#127.0.0.1:$port/[a-z0-9]*#127.0.0.1:$port/s$i#" "$proj/slipway.yaml"
  rm -rf "$proj/.slipway"
  timed s_cold sh -c "cd '$proj' && slipway build && slipway push local"
  timed c_cold sh -c "tar -C '$proj/tree' -cf '$work/layer.tar' . && crane append --insecure -f '$work/layer.tar' -t 127.0.0.1:$port/c$i/bench:1 && rm '$work/layer.tar'"
  timed s_warm sh -c "cd '$proj' && slipway build && slipway push local"
done
uploaded=$(cd "$proj" && slipway push local -o json | awk -F': ' '/"blobsUploaded"/ { gsub(/,/, "", $2); print $2 }')

s=$(median "${s_cold[@]}"); c=$(median "${c_cold[@]}"); w=$(median "${s_warm[@]}")
printf '\nbuild+push of %d MB, %d files, median of %d runs\n' "$size_mb" "$files" "$runs"
printf '  slipway build+push          %7.3f s\n' "$s"
printf '  tar + crane append          %7.3f s\n' "$c"
printf '  ratio slipway/crane         %7s   (goal <= 1.00)\n' "$(ratio "$s" "$c")"
printf '  unchanged rebuild+re-push   %7.3f s   (goal < 0.300), blobs uploaded: %s (goal 0)\n' "$w" "$uploaded"
