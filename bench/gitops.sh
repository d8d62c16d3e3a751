#!/usr/bin/env bash
# On a real node (hack/testenv/node.sh; needs root) with real Flux
# (hack/testenv/flux.sh), in one run: commit to verdict for a 3-replica
# rolling update of hello-go to a new version, three ways, taking turns to go
# first (the order rotates each run), median of RUNS:
#  (a) direct: slipway deploy to a direct environment;
#  (b) GitOps: slipway deploy to a GitOps environment applied by Flux from an
#      environment repository (served over smart HTTP with basic auth by
#      hack/testenv/githttp), with the objects `slipway gitops bootstrap`
#      prints and kustomize-controller started with
#      --feature-gates=CancelHealthCheckOnNewRevision=true: Slipway commits,
#      pushes, nudges Flux, waits for it to apply that commit and judges the
#      pods itself;
#  (c) a Flux user without Slipway: the same manifests (what (b) commits)
#      committed and pushed by git, then kubectl wait for the Kustomization,
#      with the intervals `flux bootstrap` writes (GitRepository 1m,
#      Kustomization 10m, wait: true) and no nudge, until Ready is True for
#      that commit (lastAppliedRevision main@sha1:SHA).
# It also records what a plain `kubectl wait --for=condition=Ready` says
# right after the push in (c): Ready, for the commit before (a false green).
#   bench/gitops.sh [RUNS]     (default 3; DEADLINE=60 seconds of deploy timeout)
# It does this twice: with the default rollout (deploy.surge 25%, one new
# pod at a time), then with deploy.surge 100% (every new pod at once).
# Each (c) waits for Flux's one-minute poll (up to about 75 s a run); 3 runs
# took 4 minutes here, setup included; both rollouts, about 9.
source "$(dirname "$0")/lib.sh"
runs=${1:-3}; deadline=${DEADLINE:-60}
# One real node per machine: it owns the pod and service CIDRs and the bridge.
if ip link show slw-host >/dev/null 2>&1; then
  echo "bench/gitops.sh: another real node runs here (link slw-host); stop it first (make demo-down, or its node.sh stop)" >&2
  exit 1
fi
real_node_env gitops 20
export SLIPWAY_KWOK=0
export FLUX_KC_ARGS=--feature-gates=CancelHealthCheckOnNewRevision=true FLUX_SC_ARGS=
flux=$root/hack/testenv/flux.sh
git_pid=""
cleanup() {
  if [ -n "$git_pid" ]; then kill "$git_pid" 2>/dev/null || true; fi
  "$flux" stop >/dev/null 2>&1; "$node" stop >/dev/null 2>&1; "$k8s" stop >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
die() { echo "bench/gitops.sh: $*" >&2; exit 1; }

"$flux" install >/dev/null
(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$work/githttp" ./hack/testenv/githttp)
real_node_up
"$flux" start >/dev/null 2>&1
kubectl=$("$k8s" bin)/kubectl

# The git server: env.git for (b), flux.git for (c), each with one commit
# holding its environment's empty directory (Flux applies it as an empty set).
git_user=bench git_pass=$(openssl rand -hex 16)
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 \
  GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@localhost GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@localhost
mkdir -p "$work/git"
for r in env:gitops flux:flux-user; do
  name=${r%%:*} env=${r#*:}
  git init -q --bare -b main "$work/git/$name.git"
  seed=$work/seed-$name
  mkdir -p "$seed/envs/$env"
  : >"$seed/envs/$env/.gitkeep"
  git -C "$seed" init -q -b main
  git -C "$seed" add -A
  git -C "$seed" commit -q -m "envs/$env: empty"
  git -C "$seed" push -q "$work/git/$name.git" main
done
GITHTTP_PASS=$git_pass "$work/githttp" -root "$work/git" -user "$git_user" -addr-file "$work/githttp.addr" \
  >/dev/null 2>"$work/githttp.log" </dev/null &
git_pid=$!
for _ in $(seq 1 100); do [ -s "$work/githttp.addr" ] && break; sleep 0.05; done
[ -s "$work/githttp.addr" ] || die "the git server did not start: $(cat "$work/githttp.log")"
git_url=http://$(cat "$work/githttp.addr")
export SLIPWAY_GIT_USERNAME=$git_user SLIPWAY_GIT_PASSWORD=$git_pass SLIPWAY_ACTOR=bench

proj=$work/hello
hello_project "$proj" "$reg"
cat >>"$proj/slipway.yaml" <<YAML
environments:
  direct: {registry: local, context: slipway-local, namespace: bench-direct, replicas: 3}
  gitops:
    registry: local
    context: slipway-local
    namespace: bench-gitops
    replicas: 3
    gitops: {repo: "$git_url/env.git", branch: main, path: envs/gitops, engine: flux}
  flux-user:
    registry: local
    context: slipway-local
    namespace: bench-flux
    replicas: 3
    gitops: {repo: "$git_url/flux.git", branch: main, path: envs/flux-user, engine: flux}
deploy: {pod: pod.yml, port: 8080, drain: 1s, timeout: ${deadline}s}
YAML
hello_repo "$proj"

# Flux's objects, as slipway gitops bootstrap prints them, and the secret
# of the git server's credentials they name.
for env in gitops flux-user; do
  "$kubectl" -n flux-system create secret generic "$env-git" \
    --from-literal=username="$git_user" --from-literal=password="$git_pass" >/dev/null
  slipway gitops bootstrap "$env" >"$work/$env-flux.yaml" 2>/dev/null
  "$kubectl" apply -f "$work/$env-flux.yaml" >/dev/null
done
grep -q 'interval: 1m' "$work/flux-user-flux.yaml" || die "bootstrap's GitRepository does not poll every minute"
for env in gitops flux-user; do
  "$kubectl" -n flux-system wait --for=condition=Ready --timeout=120s "kustomization/$env" >/dev/null ||
    die "Kustomization $env was not Ready: $("$kubectl" -n flux-system get "kustomization/$env" -o jsonpath='{.status.conditions}')"
done

# The Flux user's clone of flux.git; a commit of the manifests (c) pushes.
clone=$work/flux-clone
git clone -q "http://$git_user:$git_pass@${git_url#http://}/flux.git" "$clone"
mkdir -p "$clone/envs/flux-user"
render_flux_user() {
  slipway deploy flux-user --dry-run >"$work/flux-user.yaml" 2>"$work/render.log" ||
    die "slipway deploy flux-user --dry-run failed: $(cat "$work/render.log")"
}
kst() { "$kubectl" -n flux-system get "kustomization/$1" -o "jsonpath=$2"; }

# deploy_ok ARRAY ENV: slipway deploy ENV, timed into ARRAY; a failed
# verdict ends the benchmark (a success is what is measured).
deploy_ok() {
  local -n _t=$1
  local t0 t1 rc=0
  t0=$(now)
  slipway deploy "$2" --no-deps >"$work/deploy.out" 2>"$work/deploy.err" || rc=$?
  t1=$(now)
  [ "$rc" -eq 0 ] || die "slipway deploy $2 exited $rc:$(printf '\n'; cat "$work/deploy.out" "$work/deploy.err")"
  _t+=("$(secs "$t0" "$t1")")
}

# flux_user: (c). Commit and push the manifests, then what a Flux user runs:
# kubectl wait for Ready (noting which commit that Ready is for), and wait
# on until Ready is for the pushed commit. Appends to c (commit to Ready for
# that commit), c_fetch (push to the GitRepository's artifact of it, whole
# seconds: Flux writes lastUpdateTime so), and counts false greens.
flux_user() {
  local a pushed w b sha prev at fetched
  prev=$(git -C "$clone" rev-parse HEAD)
  a=$(now)
  cp "$work/flux-user.yaml" "$clone/envs/flux-user/hello.yaml"
  git -C "$clone" add -A
  git -C "$clone" commit -q -m "hello $(slipway version)"
  git -C "$clone" push -q origin main
  pushed=$(now)
  sha=$(git -C "$clone" rev-parse HEAD)
  "$kubectl" -n flux-system wait --for=condition=Ready --timeout="${deadline}s" kustomization/flux-user >/dev/null ||
    die "kubectl wait: Kustomization flux-user not Ready"
  w=$(now)
  at=$(kst flux-user '{.status.lastAppliedRevision}')
  if [ "$at" = "main@sha1:$prev" ]; then
    false_green=$((false_green + 1))
    false_green_secs+=("$(secs "$a" "$w")")
  fi
  "$kubectl" -n flux-system wait --for=jsonpath='{.status.lastAppliedRevision}'="main@sha1:$sha" \
    --timeout=180s kustomization/flux-user >/dev/null ||
    die "Flux did not apply $sha within 180 s: $(kst flux-user '{.status}')"
  "$kubectl" -n flux-system wait --for=condition=Ready --timeout="${deadline}s" kustomization/flux-user >/dev/null ||
    die "Kustomization flux-user applied $sha but is not Ready: $(kst flux-user '{.status.conditions}')"
  b=$(now)
  [ "$(kst flux-user '{.status.lastAppliedRevision}')" = "main@sha1:$sha" ] || die "Kustomization flux-user moved off $sha"
  t_flux+=("$(secs "$a" "$b")")
  fetched=$("$kubectl" -n flux-system get gitrepository/flux-user -o jsonpath='{.status.artifact.lastUpdateTime}')
  c_fetch+=("$(awk -v f="$(date -d "$fetched" +%s)" -v p="$pushed" 'BEGIN { d = f - p / 1e9; printf "%.0f", d < 0 ? 0 : d }')")
}

# Every environment gets a first revision (and the image is on the node), so
# every timed run is an update.
new_version first
slipway deploy direct >/dev/null 2>&1 || die "the first direct deploy failed"
slipway deploy gitops >"$work/deploy.out" 2>&1 || die "the first GitOps deploy failed: $(cat "$work/deploy.out")"
render_flux_user
cp "$work/flux-user.yaml" "$clone/envs/flux-user/hello.yaml"
git -C "$clone" add -A
git -C "$clone" commit -q -m "hello $(slipway version)"
git -C "$clone" push -q origin main
# Not timed: a nudge, so that the first revision needs no minute.
"$kubectl" -n flux-system annotate --overwrite gitrepository/flux-user "reconcile.fluxcd.io/requestedAt=$(date +%s)" >/dev/null
"$kubectl" -n flux-system wait --for=jsonpath='{.status.lastAppliedRevision}'="main@sha1:$(git -C "$clone" rev-parse HEAD)" \
  --timeout=180s kustomization/flux-user >/dev/null || die "Flux did not apply the Flux user's first revision"

# bench_case TITLE: RUNS timed rounds of the three, and their figures.
bench_case() {
  local i k ma mg mc
  t_direct=(); t_gitops=(); g_own=(); t_flux=(); c_fetch=(); false_green=0; false_green_secs=()
  for i in $(seq 1 "$runs"); do
    new_version "$1, run $i"
    render_flux_user
    # The order rotates: a b c, b c a, c a b, ...
    for k in $(seq 0 2); do
      case $(( (i - 1 + k) % 3 )) in
        0) deploy_ok t_direct direct ;;
        1)
          deploy_ok t_gitops gitops
          grep -q '^succeeded [0-9a-f]\{40\}$' "$work/deploy.out" || die "the GitOps deploy did not say succeeded: $(cat "$work/deploy.out")"
          g_own+=("$(sed -n 's/.*applied commit [0-9a-f]* (\([0-9.]*\)s).*/\1/p' "$work/deploy.err" | tail -n 1)")
          ;;
        2) flux_user ;;
      esac
    done
    printf 'run %d: direct %s s, GitOps %s s, Flux user %s s\n' "$i" "${t_direct[-1]}" "${t_gitops[-1]}" "${t_flux[-1]}" >&2
  done

  ma=$(median "${t_direct[@]}"); mg=$(median "${t_gitops[@]}"); mc=$(median "${t_flux[@]}")
  printf '\nreal node + Flux v1.9.6: 3-replica rolling update of hello-go, %s, commit to verdict, median of %d runs (order rotating)\n' "$1" "$runs"
  printf '  (a) slipway deploy, direct environment             %7.3f s\n' "$ma"
  printf '  (b) slipway deploy, GitOps environment (Flux)      %7.3f s   (Slipway'"'"'s own count from the push: %s s)\n' "$mg" "$(median "${g_own[@]}")"
  printf '  (c) git push + kubectl wait, Flux defaults         %7.3f s   (of which until Flux fetched the commit: %s s; GitRepository interval 1m, no nudge)\n' \
    "$mc" "$(median "${c_fetch[@]}")"
  printf '  ratio GitOps/direct                                %7s   (goal <= 1.20)\n' "$(ratio "$mg" "$ma")"
  printf '  ratio Flux user/GitOps                             %7s   (goal >= 5)\n' "$(ratio "$mc" "$mg")"
  printf '  each run: direct %s; GitOps %s; Flux user %s (s)\n' "${t_direct[*]}" "${t_gitops[*]}" "${t_flux[*]}"
  printf '\nkubectl wait --for=condition=Ready kustomization/NAME right after the push\n'
  if [ "$false_green" -gt 0 ]; then
    printf '  a false green in %d of %d runs: Ready=True after %s s, for the commit before the pushed one\n' \
      "$false_green" "$runs" "$(median "${false_green_secs[@]}")"
  else
    printf '  no false green seen: it never returned before Flux had applied the pushed commit\n'
  fi
}

# The same work twice: with Slipway's default rollout (deploy.surge 25%:
# of 3 replicas, one new pod at a time, each ready for deploy.stability,
# 3s, before the next), then with deploy.surge 100% (the 3 new pods at
# once). The Flux user's poll costs the same in both; the ratio to it
# grows as the rollout shortens.
bench_case "deploy.surge 25% (the default: one pod at a time)"
sed -i 's/^deploy: {pod: pod.yml, /&surge: 100%, /' slipway.yaml
grep -q 'surge: 100%' slipway.yaml || die "could not set deploy.surge"
bench_case "deploy.surge 100% (every new pod at once)"
