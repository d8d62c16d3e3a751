#!/usr/bin/env bash
# Copy a 256 MB, 8-layer image (and a 2-platform index) between two local
# registries: slipway promote against crane copy and skopeo copy, in one
# run; then a same-registry promotion and a repeated one.
#   bench/promote.sh [RUNS]       (default 3; SIZE_MB=256 LAYERS=8)
source "$(dirname "$0")/lib.sh"
runs=${1:-3}; size_mb=${SIZE_MB:-256}; layers=${LAYERS:-8}
work=$(mktemp -d /tmp/slipway-bench.XXXXXX)
pa=${PORT_A:-5056}; pb=${PORT_B:-5057}
export SLIPWAY_TESTENV=$work/testenv
trap '"$root/hack/testenv/registry.sh" stop "$pa" "$pb" >/dev/null 2>&1; rm -rf "$work"' EXIT

need_slipway; need_crane
"$root/hack/install-deps.sh" skopeo
"$root/hack/testenv/registry.sh" start "$pa" "$pb" 2>/dev/null

proj=$work/proj
mkdir -p "$proj"
per=$(( size_mb / layers ))
{
  echo "apiVersion: slipway/v1"
  echo "app: bench"
  echo "image:"
  echo "  platforms: [linux/amd64, linux/arm64]"
  echo "  layers:"
  for i in $(seq 1 "$layers"); do
    echo "    - {from: \"l$i/{{.Arch}}\", to: /data/l$i}"
    for arch in amd64 arm64; do
      mkdir -p "$proj/l$i"
      head -c $(( per * 1024 * 1024 / 2 )) /dev/urandom >"$proj/l$i/$arch"
    done
  done
  echo "registries:"
  echo "  a: {url: 127.0.0.1:$pa/src, insecure: true}"
  echo "  a2: {url: 127.0.0.1:$pa/same, insecure: true}"
  for i in $(seq 1 "$runs"); do echo "  b$i: {url: 127.0.0.1:$pb/s$i, insecure: true}"; done
} >"$proj/slipway.yaml"
printf '.slipway/\nl*/\n' >"$proj/.gitignore"
git -C "$proj" init -q -b main
git -C "$proj" add -A
git -C "$proj" -c user.name=b -c user.email=b@localhost commit -q -m "feat: bench"
(cd "$proj" && slipway build && slipway push a) >/dev/null 2>&1
src=127.0.0.1:$pa/src/bench:0.1.0-SNAPSHOT
echo "source: $src ($size_mb MB in $layers layers per platform set, 2 platforms)" >&2

# Every copy goes to an empty target registry: nothing to skip or mount
# (skopeo remembers where blobs live and would otherwise mount them).
fresh_b() {
  "$root/hack/testenv/registry.sh" stop "$pb" >/dev/null 2>&1
  rm -rf "$SLIPWAY_TESTENV/registry-$pb/data"
  "$root/hack/testenv/registry.sh" start "$pb" >/dev/null 2>&1
}
# CPU seconds the target registry spent: the floor no client can go under.
regcpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$(cat "$SLIPWAY_TESTENV/registry-$pb/pid")/stat"; }
s=(); c=(); k=(); rs=(); rc=()
for i in $(seq 1 "$runs"); do
  fresh_b; timed s sh -c "cd '$proj' && slipway promote a b$i --no-record --no-deps"; rs+=("$(regcpu)")
  fresh_b; timed c crane copy --insecure "$src" "127.0.0.1:$pb/c$i/bench:1"; rc+=("$(regcpu)")
  fresh_b; timed k skopeo copy --all --src-tls-verify=false --dest-tls-verify=false "docker://$src" "docker://127.0.0.1:$pb/k$i/bench:1"
done
same=(); again=()
timed same sh -c "cd '$proj' && slipway promote a a2 --no-deps"
fresh_b; (cd "$proj" && slipway promote a b1 --no-record --no-deps) >/dev/null 2>&1
for i in $(seq 1 "$runs"); do timed again sh -c "cd '$proj' && slipway promote a b1 --no-record --no-deps"; done

ms=$(median "${s[@]}"); mc=$(median "${c[@]}"); mk=$(median "${k[@]}")
best=$(printf '%s\n%s\n' "$mc" "$mk" | sort -g | head -1)
printf '\npromote of a 2-platform index, %d MB, median of %d runs\n' "$size_mb" "$runs"
printf '  slipway promote             %7.3f s\n' "$ms"
printf '  crane copy                  %7.3f s\n' "$mc"
printf '  skopeo copy --all           %7.3f s\n' "$mk"
printf '  ratio slipway/fastest peer  %7s   (goal <= 0.80)\n' "$(ratio "$ms" "$best")"
printf '  target registry CPU         %7.2f s with slipway, %.2f s with crane: both clients wait on it\n' "$(median "${rs[@]}")" "$(median "${rc[@]}")"
printf '  same-registry promotion     %7.3f s   (goal < 0.300)\n' "$(median "${same[@]}")"
printf '  repeated promotion          %7.3f s   (goal < 0.200)\n' "$(median "${again[@]}")"
