#!/usr/bin/env bash
# Installs the Debian packages named as arguments when their commands (or,
# for some, a file they ship) are missing. Runs apt-get as root, or through
# sudo when available.
set -euo pipefail

declare -A cmd_of=([curl]=curl [docker-registry]=docker-registry [skopeo]=skopeo [groovy]=groovy [openssl]=openssl
  [containernetworking-plugins]=/usr/lib/cni/bridge [iptables]=iptables [runc]=runc [socat]=socat [gcc]=gcc
  [libc6-dev]=/usr/include/stdio.h)
missing=()
for pkg in "$@"; do
  probe=${cmd_of[$pkg]:-$pkg}
  case $probe in
    /*) [ -e "$probe" ] || missing+=("$pkg") ;; # a file the package ships
    *) command -v "$probe" >/dev/null 2>&1 || missing+=("$pkg") ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
