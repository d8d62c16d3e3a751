#!/usr/bin/env bash
# What signing, SLSA provenance and the SPDX SBOM add to a push: hello-go
# (two platforms) pushed to a local registry with and without
# signing: {key: cosign.key, attest: [provenance, sbom]}, runs interleaved,
# each push to a new repository so that both upload the image and the
# signed one signs and attests it anew.
#   bench/sign.sh [RUNS]     (default 5; PORT=15600)
source "$(dirname "$0")/lib.sh"
runs=${1:-5}
work=$(mktemp -d /tmp/slipway-bench.XXXXXX)
port=${PORT:-15600}
export SLIPWAY_TESTENV=$work/testenv COSIGN_PASSWORD=bench-password
trap '"$root/hack/testenv/registry.sh" stop "$port" >/dev/null 2>&1; rm -rf "$work"' EXIT

need_slipway
"$root/hack/testenv/registry.sh" start "$port" 2>/dev/null

proj=$work/hello-go
cp -r "$root/examples/hello-go" "$proj"
(cd "$proj" && make -s dist)
# plain.yaml and signed.yaml differ in the signing section only; each push
# names its own repository.
sed -e "s#127.0.0.1:500[01]/team#127.0.0.1:$port/benchrepo#" "$proj/slipway.yaml" >"$work/plain.yaml"
{ cat "$work/plain.yaml"; printf 'signing: {key: cosign.key, attest: [provenance, sbom]}\n'; } >"$work/signed.yaml"
cp "$work/plain.yaml" "$proj/slipway.yaml"
printf '.slipway/\ndist/\n*.key\n' >"$proj/.gitignore"
git -C "$proj" init -q -b main
git -C "$proj" add -A
git -C "$proj" -c user.name=b -c user.email=b@localhost commit -q -m "feat: hello"
(cd "$proj" && slipway release >/dev/null 2>&1 && slipway build >/dev/null && slipway keys generate >/dev/null 2>&1)

# push KIND REPO: push the build with KIND's slipway.yaml to 127.0.0.1:PORT/REPO.
push() { sed -e "s#/benchrepo#/$2#" "$work/$1.yaml" >"$proj/slipway.yaml" && (cd "$proj" && slipway push dev --no-deps); }
push signed check >/dev/null 2>&1 || { echo "a signed push failed:" >&2; push signed check2 >&2; exit 1; }

# cputimed WALL CPU CMD...: like timed, and appends the user+system CPU
# seconds of CMD's processes to CPU. On a busy machine CPU time says what
# the work costs when wall time says how long others made it wait.
cputimed() {
  local -n _wall=$1 _cpu=$2; shift 2
  local a b t
  a=$(now)
  t=$( { TIMEFORMAT='%U %S'; time "$@" >/dev/null 2>&1; } 2>&1 ) || true
  b=$(now)
  _wall+=("$(secs "$a" "$b")"); _cpu+=("$(awk '{ printf "%.3f", $1 + $2 }' <<<"$t")")
}

plain=(); signed=(); plain_cpu=(); signed_cpu=()
for i in $(seq 1 "$runs"); do
  cputimed plain plain_cpu push plain "p$i"
  cputimed signed signed_cpu push signed "s$i"
done
p=$(median "${plain[@]}"); s=$(median "${signed[@]}")
pc=$(median "${plain_cpu[@]}"); sc=$(median "${signed_cpu[@]}")
over=$(awk -v a="$s" -v b="$p" 'BEGIN { printf "%.3f", a - b }')
pct=$(awk -v a="$s" -v b="$p" 'BEGIN { printf "%.1f", (a / b - 1) * 100 }')
printf '\npush of hello-go (2 platforms), median of %d runs\n' "$runs"
printf '  push                               %7.3f s\n' "$p"
printf '  push + sign + provenance + SBOM    %7.3f s\n' "$s"
printf '  overhead                           %7.3f s   (goal < 0.300)\n' "$over"
printf '  ratio signed/plain                 %7s   (%s%%, goal < 10%%)\n' "$(ratio "$s" "$p")" "$pct"
printf '  slipway CPU, plain / signed        %7.3f s / %.3f s\n' "$pc" "$sc"
printf '  load average                       %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
