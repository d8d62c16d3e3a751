#!/usr/bin/env bash
# self-image.sh: builds Slipway's own image with Slipway (make image, from
# the root slipway.yaml) and checks it: per platform, the layers hold the
# static slipway binary and the CA bundle and nothing else, the entrypoint
# runs slipway, and the amd64 binary runs on its own. Needs jq and tar.
set -euo pipefail
cd "$(dirname "$0")/.."

make --no-print-directory image >/dev/null
oci=.slipway/oci
blob() { echo "$oci/blobs/${1/://}"; }
fail() { echo "self-image: $*" >&2; exit 1; }

index=$(jq -r '.manifests[0].digest' "$oci/index.json")
platforms=$(jq -r '.manifests[] | .platform.os + "/" + .platform.architecture' "$(blob "$index")" | sort | paste -sd' ')
[ "$platforms" = "linux/amd64 linux/arm64" ] || fail "platforms are $platforms, want linux/amd64 linux/arm64"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for manifest in $(jq -r '.manifests[].digest' "$(blob "$index")"); do
	m=$(blob "$manifest")
	config=$(blob "$(jq -r '.config.digest' "$m")")
	arch=$(jq -r '.architecture' "$config")
	entry=$(jq -c '.config.Entrypoint' "$config")
	[ "$entry" = '["/usr/local/bin/slipway"]' ] || fail "$arch: entrypoint is $entry"
	files=$(for l in $(jq -r '.layers[].digest' "$m"); do tar -tzf "$(blob "$l")"; done | grep -v '/$' | sort | paste -sd' ')
	[ "$files" = "etc/ssl/certs/ca-certificates.crt usr/local/bin/slipway" ] || fail "$arch: the layers hold $files"
	mkdir -p "$tmp/$arch"
	for l in $(jq -r '.layers[].digest' "$m"); do tar -xzf "$(blob "$l")" -C "$tmp/$arch"; done
	cmp -s "$tmp/$arch/etc/ssl/certs/ca-certificates.crt" dist/ca-certificates.crt || fail "$arch: the CA bundle differs from dist/"
	cmp -s "$tmp/$arch/usr/local/bin/slipway" "dist/linux_$arch/slipway" || fail "$arch: slipway differs from dist/"
done
# Static: it runs with no loader or libraries from the host.
if [ "$(uname -m)" = x86_64 ]; then
	env -i "$tmp/amd64/usr/local/bin/slipway" version >/dev/null || fail "the amd64 slipway does not run"
	file "$tmp/amd64/usr/local/bin/slipway" 2>/dev/null | grep -q 'statically linked' || ! command -v file >/dev/null || fail "the amd64 slipway is not static"
fi
echo "self-image: ok ($platforms)"
