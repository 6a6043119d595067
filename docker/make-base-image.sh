#!/usr/bin/env bash
# Makes the image debian:bookworm locally when it cannot be pulled (a machine
# without a container registry): a minbase debootstrap from the same Debian
# mirror the host's apt uses, imported into Docker. Does nothing when the image
# is already there, so it is cheap to call before every build.
#
#   docker/make-base-image.sh [IMAGE]      (default debian:bookworm; needs root)
#
# The mirror is read from the host's apt sources at run time (never written
# here); the image's own apt gets the same mirror plus bookworm-updates and
# bookworm-security when the host has them.
set -euo pipefail

IMAGE="${1:-debian:bookworm}"
SUITE=bookworm

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "make-base-image: $IMAGE is present"
  exit 0
fi
# A registry may be reachable after all (a developer's machine): a pull is
# quicker and gives the official image. Bounded, and quiet when it fails.
if timeout 60 docker pull -q "$IMAGE" >/dev/null 2>&1; then
  echo "make-base-image: pulled $IMAGE"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

# Every enabled binary source of the host as "URI SUITE" lines, from both the
# one-line (*.list) and the deb822 (*.sources) formats.
host_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r "$f" ]] || continue
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r "$f" ]] || continue
    # Stanzas are separated by blank lines; fields may hold several values.
    awk '
      function flush(   i, j, nu, ns, u, s) {
        if (types ~ /(^| )deb( |$)/ && tolower(enabled) != "no") {
          nu = split(uris, u, " "); ns = split(suites, s, " ")
          for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]
        }
        types = uris = suites = ""; enabled = "yes"
      }
      BEGIN { enabled = "yes" }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
        if (key == "types") types = $0
        else if (key == "uris") uris = $0
        else if (key == "suites") suites = $0
        else if (key == "enabled") enabled = $0
      }
      END { flush() }' "$f"
  done
}

sources="$(host_sources)"
mirror="$(awk -v s="$SUITE" '$2 == s { print $1; exit }' <<<"$sources")"
updates="$(awk -v s="$SUITE-updates" '$2 == s { print $1; exit }' <<<"$sources")"
security="$(awk -v s="$SUITE-security" '$2 == s { print $1; exit }' <<<"$sources")"
if [[ -z "$mirror" ]]; then
  echo "make-base-image: the host's apt sources have no '$SUITE' suite to bootstrap from" >&2
  exit 1
fi
mirror="${mirror%/}"
echo "make-base-image: building $IMAGE from $mirror (debootstrap, minbase)"

if ! command -v debootstrap >/dev/null; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends debootstrap
fi

root="$(mktemp -d /tmp/pweb-rootfs.XXXXXX)"
cleanup() { $SUDO rm -rf --one-file-system "$root"; }
trap cleanup EXIT

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
keyopt=()
if [[ -r "$keyring" ]]; then keyopt=(--keyring="$keyring"); fi
$SUDO debootstrap --variant=minbase "${keyopt[@]}" "$SUITE" "$root" "$mirror"

# The image's apt: the host's mirror, and its updates and security suites.
{
  printf 'Types: deb\nURIs: %s\nSuites: %s%s\nComponents: main\nSigned-By: %s\n' \
    "$mirror" "$SUITE" "${updates:+ $SUITE-updates}" "$keyring"
  if [[ -n "$security" ]]; then
    printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: %s\n' \
      "${security%/}" "$SUITE" "$keyring"
  fi
} | $SUDO tee "$root/etc/apt/sources.list.d/debian.sources" >/dev/null
$SUDO rm -f "$root/etc/apt/sources.list"
# Like the official image: no downloaded packages or lists kept in the layer,
# and no man pages or docs installed later (smaller images, quicker builds).
$SUDO sh -c "rm -rf '$root'/var/cache/apt/archives/*.deb '$root'/var/lib/apt/lists/* '$root'/var/log/*.log"
printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
  'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
  'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' |
  $SUDO tee "$root/etc/dpkg/dpkg.cfg.d/docker-minimal" >/dev/null
printf 'APT::Install-Recommends "false";\n' |
  $SUDO tee "$root/etc/apt/apt.conf.d/docker-no-recommends" >/dev/null

# /dev, /proc and /sys are provided by the container runtime.
$SUDO tar -C "$root" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . |
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$IMAGE" >/dev/null
echo "make-base-image: made $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE") bytes)"
