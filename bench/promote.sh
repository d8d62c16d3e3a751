#!/usr/bin/env bash
# Copy a 256 MB, 8-layer image, the same kind of image signed at push (a
# cosign signature tag beside it, as a signed push leaves it), and a
# 2-platform index of the same size, between two local registries: slipway
# promote, with its promotion record, against crane copy and skopeo copy,
# in one run; then same-registry promotions and a repeated one. slipway
# also copies the signature and writes the record; the peers copy the
# image alone. Every copy goes to an empty target registry, and the tools
# take turns going first. Besides wall time it prints the CPU each process
# spent (client, source registry, target registry): on a small machine the
# registries' own CPU is most of the work. bench/floor, a client that does
# nothing but splice each blob from one socket into the other, shows how
# fast any client could be here. slipway promote --digest does the same
# promotion, with the record and the referrers, but sets no version tag, so
# it has no tag to guard against a concurrent promotion (nor the 50 ms the
# guard waits for one to land): the difference between the two is what the
# guard costs. Last, a smaller image across a network: the same registries
# behind bench/lag, which delays every byte by DELAY (10ms) each way, as a
# registry elsewhere would; there each client's round trips count more
# than its bytes.
#   bench/promote.sh [RUNS]       (default 3; SIZE_MB=256 LAYERS=8 DELAY=10ms)
source "$(dirname "$0")/lib.sh"
runs=${1:-3}; size_mb=${SIZE_MB:-256}; layers=${LAYERS:-8}
work=$(mktemp -d /tmp/slipway-bench.XXXXXX)
pa=${PORT_A:-5056}; pb=${PORT_B:-5057}; la=${LAG_A:-5058}; lb=${LAG_B:-5059}; delay=${DELAY:-10ms}
export SLIPWAY_TESTENV=$work/testenv
lags=()
trap 'kill "${lags[@]}" 2>/dev/null; "$root/hack/testenv/registry.sh" stop "$pa" "$pb" >/dev/null 2>&1; rm -rf "$work"' EXIT

need_slipway; need_crane
(cd "$root" && go build -o bin/floor ./bench/floor && go build -o bin/lag ./bench/lag)
"$root/hack/install-deps.sh" skopeo openssl
# The signing key of the signed image's push: a key without encryption in
# a variable, as a CI secret store hands it over.
PLAIN_KEY=$(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null)
export PLAIN_KEY
"$root/hack/testenv/registry.sh" start "$pa" "$pb" 2>/dev/null

# project NAME [signed] PLATFORM...: a project whose image has $layers
# layers of $size_mb MB in all, split evenly over the platforms, pushed to
# registry a; signed, the push signs it too.
project() {
  local app=$1 signed=""; shift
  [ "$1" = signed ] && { signed=1; shift; }
  local dir=$work/$app n=$# per
  per=$(( size_mb * 1024 * 1024 / layers / n ))
  mkdir -p "$dir"
  {
    echo "apiVersion: slipway/v1"
    echo "app: $app"
    echo "image:"
    echo "  platforms: [$(IFS=,; echo "$*" | sed 's/,/, /g')]"
    echo "  layers:"
    for i in $(seq 1 "$layers"); do
      echo "    - {from: \"l$i/{{.Arch}}\", to: /data/l$i}"
      mkdir -p "$dir/l$i"
      for p in "$@"; do head -c "$per" /dev/urandom >"$dir/l$i/${p#*/}"; done
    done
    echo "registries:"
    echo "  a: {url: 127.0.0.1:$pa/src, insecure: true}"
    echo "  la: {url: 127.0.0.1:$la/src, insecure: true}"
    for i in $(seq 1 "$runs"); do
      echo "  b$i: {url: 127.0.0.1:$pb/s$i, insecure: true}"
      echo "  a$((i + 1)): {url: 127.0.0.1:$pa/same$i, insecure: true}"
      echo "  lb$i: {url: 127.0.0.1:$lb/s$i, insecure: true}"
      echo "  la$((i + 1)): {url: 127.0.0.1:$la/same$i, insecure: true}"
    done
    [ -z "$signed" ] || echo "signing: {key: env://PLAIN_KEY}"
  } >"$dir/slipway.yaml"
  printf '.slipway/\nl*/\n' >"$dir/.gitignore"
  git -C "$dir" init -q -b main
  git -C "$dir" add -A
  git -C "$dir" -c user.name=b -c user.email=b@localhost commit -q -m "feat: bench"
  (cd "$dir" && slipway build && slipway push a) >/dev/null 2>&1
}

fresh_b() { # an empty target registry: nothing to skip or mount
  "$root/hack/testenv/registry.sh" stop "$pb" >/dev/null 2>&1
  rm -rf "$SLIPWAY_TESTENV/registry-$pb/data"
  "$root/hack/testenv/registry.sh" start "$pb" >/dev/null 2>&1
}
regcpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$(cat "$SLIPWAY_TESTENV/registry-$1/pid")/stat"; }

# measure TOOL CMD...: runs CMD against a fresh target; appends wall and
# client CPU seconds to ${TOOL}_wall and ${TOOL}_cli, the source and target
# registries' CPU seconds to ${TOOL}_src and ${TOOL}_dst.
measure() {
  local tool=$1; shift
  local -n _w=${tool}_wall _c=${tool}_cli _s=${tool}_src _d=${tool}_dst
  local s0 out
  fresh_b; s0=$(regcpu "$pa")
  out=$( { TIMEFORMAT='%3R %3U %3S'; time "$@" >/dev/null 2>&1; } 2>&1 | tail -1 )
  read -r wall user sys <<<"$out"
  _w+=("$wall"); _c+=("$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')")
  _s+=("$(awk -v a="$s0" -v b="$(regcpu "$pa")" 'BEGIN { printf "%.2f", b - a }')"); _d+=("$(regcpu "$pb")")
}

row() { # TOOL LABEL
  local -n w=${1}_wall c=${1}_cli s=${1}_src d=${1}_dst
  printf '  %-22s %7.3f s   CPU: client %.2f s, source registry %.2f s, target registry %.2f s\n' \
    "$2" "$(median "${w[@]}")" "$(median "${c[@]}")" "$(median "${s[@]}")" "$(median "${d[@]}")"
}

# run TOOL APP I: the I-th copy of APP's image with TOOL.
run() {
  local src=127.0.0.1:$pa/src/$2:0.1.0-SNAPSHOT
  case $1 in
    slipway) measure slipway sh -c "cd '$work/$2' && slipway promote a b$3 --no-deps" ;;
    bydigest)
      measure bydigest sh -c "cd '$work/$2' && slipway promote a b$3 --no-deps --digest $(crane digest --insecure "$src")" ;;
    crane) measure crane crane copy --insecure "$src" "127.0.0.1:$pb/c$3/$2:1" ;;
    skopeo) measure skopeo skopeo copy --all --src-tls-verify=false --dest-tls-verify=false "docker://$src" "docker://127.0.0.1:$pb/k$3/$2:1" ;;
    floor) measure floor floor "$src" "127.0.0.1:$pb/f$3/$2:1" ;;
  esac
}

# check APP: one promotion of APP, untimed, that must succeed and bring the
# source's signature tags along, since a promotion that fails fast would
# time well.
check() {
  local sigs
  fresh_b
  (cd "$work/$1" && slipway promote a b1 --no-deps >/dev/null) || { echo "slipway promote of $1 failed" >&2; exit 1; }
  sigs=$(crane ls --insecure "127.0.0.1:$pa/src/$1" | grep -c '\.sig$' || true)
  if [ "$1" = signed ] && [ "$sigs" -lt 1 ]; then echo "the signed push left no signature tag" >&2; exit 1; fi
  [ "$(crane ls --insecure "127.0.0.1:$pb/s1/$1" | grep -c '\.sig$' || true)" = "$sigs" ] ||
    { echo "the signature tags of $1 did not follow the promotion" >&2; exit 1; }
}

bench_case() { # APP TITLE
  local app=$1 title=$2 tools=(slipway crane skopeo floor bydigest) i k
  slipway_wall=(); slipway_cli=(); slipway_src=(); slipway_dst=()
  bydigest_wall=(); bydigest_cli=(); bydigest_src=(); bydigest_dst=()
  crane_wall=(); crane_cli=(); crane_src=(); crane_dst=()
  skopeo_wall=(); skopeo_cli=(); skopeo_src=(); skopeo_dst=()
  floor_wall=(); floor_cli=(); floor_src=(); floor_dst=()
  check "$app"
  for i in $(seq 1 "$runs"); do
    # Each run another tool goes first: none always finds the machine
    # (caches, the source registry) as the one before it left it.
    for k in 0 1 2 3 4; do run "${tools[$(((i - 1 + k) % 5))]}" "$app" "$i"; done
  done
  local ms mc mk mf best
  ms=$(median "${slipway_wall[@]}"); mc=$(median "${crane_wall[@]}"); mk=$(median "${skopeo_wall[@]}")
  mf=$(median "${floor_wall[@]}")
  best=$(printf '%s\n%s\n' "$mc" "$mk" | sort -g | head -1)
  printf '\n%s, %d MB, median of %d runs\n' "$title" "$size_mb" "$runs"
  row slipway "slipway promote"
  row crane "crane copy"
  row skopeo "skopeo copy --all"
  row floor "zero-copy floor client"
  row bydigest "slipway promote --digest"
  printf '  ratio slipway/fastest peer  %5s   (goal <= 0.80)\n' "$(ratio "$ms" "$best")"
  printf '  ratio slipway/floor         %5s   (goal <= 1.05)\n' "$(ratio "$ms" "$mf")"
  printf '  ratio floor/fastest peer    %5s   (a client that spends almost no CPU)\n' "$(ratio "$mf" "$best")"
  printf '  ratio --digest/floor        %5s   (the same promotion, record and referrers, by digest: no version tag to guard)\n' \
    "$(ratio "$(median "${bydigest_wall[@]}")" "$mf")"
}

project image linux/amd64
project signed signed linux/amd64
project index linux/amd64 linux/arm64
echo "source: 127.0.0.1:$pa/src/{image,signed,index} ($size_mb MB, $layers layers per platform)" >&2
bench_case image "promote of an image"
bench_case signed "promote of a signed image (slipway: with the signature and the record)"
bench_case index "promote of a 2-platform index"

# Within one registry, each to a repository of its own: blobs are mounted,
# so this is the promotion's fixed cost.
same=(); same_signed=(); again=()
for i in $(seq 1 "$runs"); do
  timed same sh -c "cd '$work/index' && slipway promote a a$((i + 1)) --no-deps"
  timed same_signed sh -c "cd '$work/signed' && slipway promote a a$((i + 1)) --no-deps"
done
fresh_b; (cd "$work/index" && slipway promote a b1 --no-deps) >/dev/null 2>&1
for _ in $(seq 1 "$runs"); do timed again sh -c "cd '$work/index' && slipway promote a b1 --no-deps"; done
printf '\n  same-registry promotion     %7.3f s   (index; goal <= 0.200)\n' "$(median "${same[@]}")"
printf '  the same, signed image      %7.3f s   (with the signature; goal <= 0.200)\n' "$(median "${same_signed[@]}")"
printf '  repeated promotion          %7.3f s   (goal < 0.200)\n' "$(median "${again[@]}")"

# Across a network: a 32 MB, 4-layer image through bench/lag in front of
# each registry. The peers make about as many requests as Slipway before
# the first blob and after the last; Slipway's promotion also writes the
# record and guards the version tag (its settle is twice its own look and
# write, so it grows with the round trip).
"$root/bin/lag" -listen "127.0.0.1:$la" -to "127.0.0.1:$pa" -delay "$delay" 2>/dev/null & lags+=($!)
"$root/bin/lag" -listen "127.0.0.1:$lb" -to "127.0.0.1:$pb" -delay "$delay" 2>/dev/null & lags+=($!)
size_mb=32 layers=4 project small linux/amd64
lag_case() {
  local src=127.0.0.1:$la/src/small:0.1.0-SNAPSHOT i k dig
  local tools=(slipway bydigest crane floor)
  slipway_wall=(); slipway_cli=(); slipway_src=(); slipway_dst=()
  bydigest_wall=(); bydigest_cli=(); bydigest_src=(); bydigest_dst=()
  crane_wall=(); crane_cli=(); crane_src=(); crane_dst=()
  floor_wall=(); floor_cli=(); floor_src=(); floor_dst=()
  dig=$(crane digest --insecure "$src")
  fresh_b
  (cd "$work/small" && slipway promote la lb1 --no-deps >/dev/null) || { echo "slipway promote across the lag failed" >&2; exit 1; }
  for i in $(seq 1 "$runs"); do
    for k in 0 1 2 3; do
      case ${tools[$(((i - 1 + k) % 4))]} in
        slipway) measure slipway sh -c "cd '$work/small' && slipway promote la lb$i --no-deps" ;;
        bydigest) measure bydigest sh -c "cd '$work/small' && slipway promote la lb$i --no-deps --digest $dig" ;;
        crane) measure crane crane copy --insecure "$src" "127.0.0.1:$lb/c$i/small:1" ;;
        floor) measure floor floor "$src" "127.0.0.1:$lb/f$i/small:1" ;;
      esac
    done
  done
  printf '\npromote of a 32 MB image across a network (%s each way), median of %d runs\n' "$delay" "$runs"
  row slipway "slipway promote"
  row bydigest "slipway promote --digest"
  row crane "crane copy"
  row floor "zero-copy floor client"
  printf '  ratio slipway/crane         %5s\n' "$(ratio "$(median "${slipway_wall[@]}")" "$(median "${crane_wall[@]}")")"
  printf '  ratio --digest/crane        %5s   (no version tag to guard)\n' "$(ratio "$(median "${bydigest_wall[@]}")" "$(median "${crane_wall[@]}")")"
  local same=()
  for i in $(seq 1 "$runs"); do timed same sh -c "cd '$work/small' && slipway promote la la$((i + 1)) --no-deps"; done
  printf '  same-registry promotion     %7.3f s   (blobs mounted: the fixed cost, in round trips)\n' "$(median "${same[@]}")"
}
lag_case
printf '  load average                %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
