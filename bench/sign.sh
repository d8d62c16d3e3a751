#!/usr/bin/env bash
# What signing, SLSA provenance and the SPDX SBOM add to a push: hello-go
# (two platforms) pushed to a local registry without signing, and with
# signing: {key: ..., attest: [provenance, sbom]} for two kinds of key:
#   - cosign.key, encrypted with scrypt as cosign's format is: opening it
#     costs a fixed, deliberate amount of CPU in every process;
#   - env://PLAIN_KEY, a key without encryption held in a variable (what a
#     CI secret store hands a job): no scrypt.
# Runs interleaved, each push to a new repository so that every push
# uploads the image and every signed one signs and attests it anew.
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
{ cat "$work/plain.yaml"; printf 'signing: {key: env://PLAIN_KEY, attest: [provenance, sbom]}\n'; } >"$work/envkey.yaml"
cp "$work/plain.yaml" "$proj/slipway.yaml"
printf '.slipway/\ndist/\n*.key\n' >"$proj/.gitignore"
git -C "$proj" init -q -b main
git -C "$proj" add -A
git -C "$proj" -c user.name=b -c user.email=b@localhost commit -q -m "feat: hello"
(cd "$proj" && slipway release >/dev/null 2>&1 && slipway build >/dev/null && slipway keys generate >/dev/null 2>&1)
PLAIN_KEY=$(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null) || { echo "needs openssl (make deps)" >&2; exit 1; }
export PLAIN_KEY

# push KIND REPO: push the build with KIND's slipway.yaml to 127.0.0.1:PORT/REPO.
push() { sed -e "s#/benchrepo#/$2#" "$work/$1.yaml" >"$proj/slipway.yaml" && (cd "$proj" && slipway push dev --no-deps); }
for kind in signed envkey; do
  push $kind "check-$kind" >/dev/null 2>&1 || { echo "a push with $kind.yaml failed:" >&2; push $kind "again-$kind" >&2; exit 1; }
done

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

plain=(); signed=(); envkey=(); plain_cpu=(); signed_cpu=(); envkey_cpu=()
for i in $(seq 1 "$runs"); do
  cputimed plain plain_cpu push plain "p$i"
  cputimed signed signed_cpu push signed "s$i"
  cputimed envkey envkey_cpu push envkey "e$i"
done
p=$(median "${plain[@]}"); pc=$(median "${plain_cpu[@]}")
# row LABEL WALL CPU: a signed push against the plain one.
row() {
  local over pct
  over=$(awk -v a="$2" -v b="$p" 'BEGIN { printf "%.3f", a - b }')
  pct=$(awk -v a="$2" -v b="$p" 'BEGIN { printf "%.1f", (a / b - 1) * 100 }')
  printf '  %-34s %7.3f s   +%s s, %s%%   CPU %.3f s\n' "$1" "$2" "$over" "$pct" "$3"
}
printf '\npush of hello-go (2 platforms), median of %d runs (goal: signing adds < 10%% and < 0.300 s)\n' "$runs"
printf '  %-34s %7.3f s                 CPU %.3f s\n' "push" "$p" "$pc"
row "+ sign, provenance, SBOM; env key" "$(median "${envkey[@]}")" "$(median "${envkey_cpu[@]}")"
row "  the same with cosign.key" "$(median "${signed[@]}")" "$(median "${signed_cpu[@]}")"
printf '  (cosign.key adds its scrypt: about %s s of CPU on this machine, in every process)\n' \
  "$(awk -v a="$(median "${signed_cpu[@]}")" -v b="$(median "${envkey_cpu[@]}")" 'BEGIN { printf "%.2f", a - b }')"
printf '  load average                       %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
