# static-site-ci.sh: what hack/gitlab-ci-local.sh and hack/github-act.sh
# share to run examples/static-site's generated CI on the host: the local
# registries and control plane, the example copied into fresh git
# repositories, and the checks of what a run left. Sourced; the caller sets
# script (its name, for messages), root, dev_port, rc_port, k8s and reg.

fail() { echo "$script: $*" >&2; exit 1; }

# start_env: the registries on dev_port and rc_port, and the control plane
# starting in the background (k8s_pid; cluster_up waits for it), all under
# $work, removed on exit.
start_env() {
	work=$(mktemp -d)
	export SLIPWAY_TESTENV=$work/testenv
	k8s_pid=
	trap cleanup EXIT
	"$reg" start "$dev_port" "$rc_port" >/dev/null 2>&1
	# The control plane starts while the first run goes, which needs none.
	"$k8s" start >"$work/k8s.out" 2>"$work/k8s.log" &
	k8s_pid=$!
}

cleanup() {
	[ -z "$k8s_pid" ] || wait "$k8s_pid" 2>/dev/null || true
	"$k8s" stop >/dev/null 2>&1 || true
	"$reg" stop "$dev_port" "$rc_port" >/dev/null 2>&1 || true
	rm -rf "$work"
}

# cluster_up: waits for the control plane start_env started.
cluster_up() {
	wait "$k8s_pid" || fail "the control plane did not start: $(tail -n 20 "$work/k8s.log")"
	k8s_pid=
}

kubectl() { "$("$k8s" bin)/kubectl" --kubeconfig "$SLIPWAY_TESTENV/kubeconfig" "$@"; }

# project NAME: the example, as committed, in $work/NAME, a fresh git
# repository whose origin is the bare repository $work/NAME-remote.git, its
# registries moved to our ports. Prints the directory.
project() {
	local dir=$work/$1
	mkdir -p "$dir"
	git -C "$root" ls-files -z examples/static-site | while IFS= read -r -d '' f; do
		mkdir -p "$dir/$(dirname "${f#examples/static-site/}")"
		cp "$root/$f" "$dir/${f#examples/static-site/}"
	done
	sed -i -e "s/127\.0\.0\.1:5000/127.0.0.1:$dev_port/" -e "s/127\.0\.0\.1:5001/127.0.0.1:$rc_port/" "$dir/slipway.yaml"
	git init -q --bare "$work/$1-remote.git"
	git -C "$dir" init -q -b main
	git -C "$dir" remote add origin "file://$work/$1-remote.git"
	echo "$dir"
}

# break_ci_build DIR: makes the copy's ciBuild fail (its command `exit 1`).
break_ci_build() {
	sed -i 's/^  ciBuild: .*/  ciBuild: exit 1/' "$1/ci.yaml"
	grep -q '^  ciBuild: exit 1$' "$1/ci.yaml" || fail "could not break ciBuild in ci.yaml"
}

# has LOG PATTERN...: every extended regular expression matches a line of LOG.
has() {
	local log=$1
	shift
	for p in "$@"; do
		grep -Eq -- "$p" "$log" || fail "the output has no line matching '$p'; it was:
$(cat "$log")"
	done
}

# digest PORT: the digest of web/docs:0.1.0 in the registry on PORT.
digest() {
	curl -fsSI -H 'Accept: application/vnd.oci.image.index.v1+json' \
		"http://127.0.0.1:$1/v2/web/docs/manifests/0.1.0" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'
}

# nothing_pushed NAME: the failed run of project NAME pushed no tag to its
# origin and nothing to either registry.
nothing_pushed() {
	[ -z "$(git -C "$work/$1-remote.git" tag)" ] || fail "the failed run pushed tags: $(git -C "$work/$1-remote.git" tag)"
	local port catalog
	for port in "$dev_port" "$rc_port"; do
		catalog=$(curl -fsS "http://127.0.0.1:$port/v2/_catalog")
		[ "$catalog" = '{"repositories":[]}' ] || fail "the failed run pushed to 127.0.0.1:$port: $catalog"
	done
}

# no_deployments: the failed run deployed nothing (needs cluster_up).
no_deployments() {
	if kubectl get deployments -A -o name | grep -q docs; then
		fail "the failed run made Deployments: $(kubectl get deployments -A -o name)"
	fi
}

# make_keys: a signing key pair in $work/keys, encrypted with $password.
make_keys() {
	password=pw-$RANDOM$RANDOM$RANDOM
	mkdir -p "$work/keys"
	SLIPWAY_SIGNING_PASSWORD=$password "$root/bin/slipway" -C "$work/keys" keys generate >/dev/null 2>&1
}

# end_state NAME PUSHED: the end of a run of project NAME: tag v0.1.0 in its
# origin (in $tag), web/docs:0.1.0 at PUSHED in both registries, and
# docs-dev and docs-prod Deployments of it.
end_state() {
	local pushed=$2 port d pair ns image
	tag=$(git -C "$work/$1-remote.git" tag)
	[ "$tag" = v0.1.0 ] || fail "the remote has tags '$tag', want v0.1.0"
	for port in "$dev_port" "$rc_port"; do
		d=$(digest "$port")
		[ "$d" = "$pushed" ] || fail "127.0.0.1:$port has web/docs:0.1.0 at '$d', want the pushed $pushed"
	done
	for pair in "docs-dev:$dev_port" "docs-prod:$rc_port"; do
		ns=${pair%%:*} port=${pair##*:}
		image=$(kubectl get deployment docs -n "$ns" -o 'jsonpath={.spec.template.spec.containers[0].image}')
		[ "$image" = "127.0.0.1:$port/web/docs@$pushed" ] || fail "the Deployment in $ns runs '$image', want 127.0.0.1:$port/web/docs@$pushed"
	done
}
