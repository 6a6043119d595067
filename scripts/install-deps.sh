#!/usr/bin/env bash
# Installs the Debian 12 packages pweb needs. `--test` adds what the test suite and
# benchmarks use (dig, kdig, dnsperf, NSD, Knot, Unbound, dnsviz, clang for fuzzing,
# dnspython, pytest).
# Only installs what is missing, so a second run is quick.
set -euo pipefail

BUILD_PKGS=(build-essential cmake ninja-build pkg-config
  libopendht-dev libmsgpack-dev libmsgpack-cxx-dev libasio-dev nlohmann-json3-dev libcpp-httplib-dev
  libsqlite3-dev libcli11-dev libspdlog-dev libsodium-dev libgtest-dev libgmock-dev libssl-dev libpq-dev libnghttp2-dev)
TEST_PKGS=(dnsutils knot-dnsutils dnsperf nsd knot clang libclang-rt-14-dev clang-format
  python3 python3-dnspython python3-pytest python3-prometheus-client curl util-linux procps
  ddclient inadyn wrk bind9 bind9-utils sqlite3 systemd openssl chromium python3-pil python3-jsonschema python3-yaml python3-opendht debootstrap iproute2
  pebble lego certbot python3-certbot-dns-rfc2136 ccache
  postgresql-15 postgresql-client-15 unbound dnsviz)

pkgs=("${BUILD_PKGS[@]}")
if [[ "${1:-}" == "--test" ]]; then pkgs+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
# NSD and Knot are only benchmark peers: keep their packages from starting
# system services on port 53 while installing.
policy_added=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  policy_added=1
fi
cleanup() { if ((policy_added)); then $SUDO rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
