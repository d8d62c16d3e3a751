#!/usr/bin/env bash
# jre-base.sh REF: builds a Java 17 runtime base image from Debian's
# packages (openjdk-17-jre-headless and the libraries its java launcher and
# libjvm load: libc6, libgcc-s1, libstdc++6, zlib1g) and pushes it, plain
# HTTP, to REF on a registry on 127.0.0.1, e.g. 127.0.0.1:5000/base/jre:17.
# No registry outside this machine is asked: the packages come through apt
# from the Debian mirror, as everything else apt installs here. The image is
# for this machine's architecture; it runs as UID 65532 with java on PATH.
# Packages are cached by version under $SLIPWAY_CACHE (~/.cache/slipway)/jre-base.
#   CRANE_VERSION  crane from the Go module proxy (v0.22.1), installed into bin/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ref=${1:?usage: jre-base.sh 127.0.0.1:PORT/REPO:TAG}
case $ref in
  127.0.0.1:*/*) ;;
  *) echo "jre-base.sh: $ref: push only to a registry on 127.0.0.1" >&2; exit 2 ;;
esac
packages=(openjdk-17-jre-headless libc6 libgcc-s1 libstdc++6 zlib1g)
arch=$(dpkg --print-architecture)
crane_version=${CRANE_VERSION:-v0.22.1}
crane=$root/bin/crane
[ -x "$crane" ] || GOBIN=$root/bin go install "github.com/google/go-containerregistry/cmd/crane@$crane_version"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || { echo "jre-base.sh: needs apt-get and dpkg-deb (Debian)" >&2; exit 1; }

# The versions apt would install, so that the cache key changes with them.
versions=()
for p in "${packages[@]}"; do
  v=$(apt-cache policy "$p" | awk '/Candidate:/ { print $2 }')
  if [ -z "$v" ] || [ "$v" = "(none)" ]; then
    [ "$(id -u)" -eq 0 ] && apt-get update -qq
    v=$(apt-cache policy "$p" | awk '/Candidate:/ { print $2 }')
  fi
  [ -n "$v" ] && [ "$v" != "(none)" ] || { echo "jre-base.sh: apt knows no $p" >&2; exit 1; }
  versions+=("$p=$v")
done
key=$(printf '%s\n' "$arch" "${versions[@]}" | sha256sum | cut -c1-16)
cache=${SLIPWAY_CACHE:-${HOME:-/root}/.cache/slipway}/jre-base/$key
if [ ! -s "$cache/rootfs.tar" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/debs" "$work/rootfs"
  (cd "$work/debs" && apt-get -o APT::Sandbox::User=root download -q "${versions[@]}" >/dev/null)
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/rootfs"; done
  r=$work/rootfs
  # What a server's JVM does not need: documentation, locales, the GUI and
  # sound libraries' man pages, and debhelper's bookkeeping.
  rm -rf "$r/usr/share/doc" "$r/usr/share/man" "$r/usr/share/locale" "$r/usr/share/lintian" "$r/usr/share/i18n" "$r/usr/share/gdb"
  jvm=$(cd "$r" && ls -d usr/lib/jvm/java-17-openjdk-*)
  mkdir -p "$r/usr/local/bin" "$r/tmp" "$r/etc"
  ln -s "/$jvm/bin/java" "$r/usr/local/bin/java"
  chmod 1777 "$r/tmp"
  printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/usr/sbin/nologin\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$r/etc/group"
  # Reproducible: sorted, one mtime, numeric root ownership.
  mkdir -p "$cache"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$r" -cf "$cache/rootfs.tar.tmp" .
  mv "$cache/rootfs.tar.tmp" "$cache/rootfs.tar"
  printf '%s\n' "${versions[@]}" >"$cache/packages"
  echo "/$jvm" >"$cache/java-home"
fi
jvm_home=$(cat "$cache/java-home")
log=$(mktemp)
{
  "$crane" append --insecure --oci-empty-base --platform "linux/$arch" -f "$cache/rootfs.tar" -t "$ref" &&
    "$crane" mutate --insecure "$ref" --set-platform "linux/$arch" --user 65532:65532 \
      -e "PATH=/usr/local/bin:/usr/bin:/bin" -e "JAVA_HOME=$jvm_home" -t "$ref"
} >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
rm -f "$log"
echo "$ref ($(cut -d= -f1,2 "$cache/packages" | tr '\n' ' '))"
