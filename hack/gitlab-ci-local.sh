#!/usr/bin/env bash
# gitlab-ci-local.sh: runs the .gitlab-ci.yml Slipway generates for
# examples/static-site with gitlab-ci-local (shell executor, no Docker), on a
# copy of the example in a fresh git repository whose origin is a local bare
# repository, against a registry on 127.0.0.1. The jobs ciBuild, ciLint,
# release, build and push-dev must pass; then the tag must be in the remote
# and the image in the registry. deploy-dev needs a cluster and is not run.
#   GITLAB_CI_LOCAL_VERSION  the npm package's version (pinned below)
#   PORT                     the registry's port (default 15500)
#   NO_BUILD=1               use bin/slipway as it is, without make build
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=${GITLAB_CI_LOCAL_VERSION:-4.56.2} # 4.57 and later need Node 22
port=${PORT:-15500}
tools=$root/bin/gitlab-ci-local-$version
glci=$tools/node_modules/.bin/gitlab-ci-local

for tool in node npm rsync git curl; do
	command -v "$tool" >/dev/null || { echo "gitlab-ci-local.sh: needs $tool (apt-get install nodejs npm rsync git curl)" >&2; exit 1; }
done
if [ ! -x "$glci" ]; then
	# re2, a dependency, compiles its native module here rather than fetch a
	# prebuilt one from outside the npm registry.
	DEVELOPMENT_SKIP_GETTING_ASSET=true npm install --prefix "$tools" --no-audit --no-fund "gitlab-ci-local@$version" >/dev/null
fi
[ "${NO_BUILD:-}" = 1 ] || make -C "$root" --no-print-directory build >/dev/null

work=$(mktemp -d)
export SLIPWAY_TESTENV=$work/testenv
cleanup() {
	"$root/hack/testenv/registry.sh" stop "$port" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
"$root/hack/testenv/registry.sh" start "$port" >/dev/null

# The example, as committed, with its dev registry moved to our port.
project=$work/static-site
mkdir -p "$project"
git -C "$root" ls-files -z examples/static-site | while IFS= read -r -d '' f; do
	mkdir -p "$project/$(dirname "${f#examples/static-site/}")"
	cp "$root/$f" "$project/${f#examples/static-site/}"
done
sed -i "s/127\.0\.0\.1:5000/127.0.0.1:$port/" "$project/slipway.yaml"
git init -q --bare "$work/remote.git"
cd "$project"
git init -q -b main
git remote add origin "file://$work/remote.git"
PATH=$root/bin:$PATH slipway pipeline generate --target gitlab >/dev/null
git add -A
git -c user.name=CI -c user.email=ci@example.com commit -qm "feat: the site"

# The release job points origin at $CI_SERVER_URL/$CI_PROJECT_PATH.git, as on
# GitLab: here that is the bare repository. State stays outside the checkout,
# which the release must find clean.
PATH=$root/bin:$PATH "$glci" --shell-executor-no-image --state-dir "../glci-state" \
	--variable "CI_SERVER_URL=file://$work" --variable CI_PROJECT_PATH=remote \
	ciBuild ciLint release build push-dev

tag=$(git -C "$work/remote.git" tag)
[ "$tag" = v0.1.0 ] || { echo "gitlab-ci-local.sh: the remote has tags '$tag', want v0.1.0" >&2; exit 1; }
tags=$(curl -fsS "http://127.0.0.1:$port/v2/web/docs/tags/list")
case "$tags" in
*'"0.1.0"'*) ;;
*) echo "gitlab-ci-local.sh: the registry has $tags, want 0.1.0" >&2; exit 1 ;;
esac
echo "gitlab-ci-local.sh: ok (tag $tag pushed, image 0.1.0 in 127.0.0.1:$port)"
