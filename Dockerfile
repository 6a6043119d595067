# pWeb Home Agent image: pweb-node (agent or standalone gateway) and pweb-update.
#
#   docker build -t pweb-home-agent:latest .        (or: docker compose build)
#
# Without a container registry, make the base image first:
#   docker/make-base-image.sh
#
# Works with the classic builder and with BuildKit (no BuildKit-only syntax:
# a `# syntax=` line would make BuildKit pull a frontend image).

ARG BASE_IMAGE=debian:bookworm

# ---- build: compile the two binaries --------------------------------------
FROM ${BASE_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-euc"]

# The BUILD_PKGS of scripts/install-deps.sh without the test frameworks. Its own
# layer, before any source is copied, so source changes reuse it.
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libopendht-dev libmsgpack-dev libmsgpack-cxx-dev libasio-dev nlohmann-json3-dev \
      libcpp-httplib-dev libsqlite3-dev libcli11-dev libspdlog-dev libsodium-dev libpq-dev \
      libnghttp2-dev \
 && rm -rf /var/lib/apt/lists/*

# The context holds only the sources (.dockerignore lists what goes in). One
# COPY: every layer costs a container commit, slow on some storage drivers.
COPY . /src

# Parallel compile jobs (the default suits a small shared machine). After the
# build: the Debian packages owning the shared libraries the binaries load, a
# list the runtime stage installs; kept as a file so the runtime's apt layer
# stays cached for as long as the list does not change.
ARG BUILD_JOBS=2
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPWEB_TESTS=OFF \
 && cmake --build /build -j "${BUILD_JOBS}" --target pweb-node pweb-update \
 && mkdir -p /out/bin \
 && strip -o /out/bin/pweb-node /build/node/pweb-node \
 && strip -o /out/bin/pweb-update /build/registrar/updater/pweb-update \
 && rm -rf /build \
 && for bin in /out/bin/*; do ldd "$bin"; done \
      | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u \
      | while read -r lib; do \
          dpkg -S "$lib" 2>/dev/null || dpkg -S "$(realpath "$lib")" 2>/dev/null \
            || dpkg -S "${lib#/usr}" 2>/dev/null || { echo "no package owns $lib" >&2; exit 1; }; \
        done \
      | cut -d: -f1 | sort -u > /out/runtime-packages \
 && cat /out/runtime-packages

# ---- runtime ---------------------------------------------------------------
FROM ${BASE_IMAGE}

# curl for the health check; libcap2-bin only for setcap below (removed there).
# A fixed uid/gid for user pweb, so a host directory can be chowned for a bind mount.
ARG PWEB_UID=10053
COPY --from=build /out/runtime-packages /tmp/runtime-packages
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      $(cat /tmp/runtime-packages) curl libcap2-bin \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/runtime-packages \
 && groupadd --system --gid "${PWEB_UID}" pweb \
 && useradd --system --uid "${PWEB_UID}" --gid pweb --home-dir /var/lib/pweb \
      --no-create-home --shell /usr/sbin/nologin pweb \
 && install -d -o pweb -g pweb -m 0750 /var/lib/pweb

COPY --from=build /out/bin/pweb-node /out/bin/pweb-update /usr/local/bin/
COPY docker/entrypoint.sh /usr/local/bin/pweb-entrypoint
# Port 53 as a non-root user: the one capability, on the binary itself.
RUN chmod 0755 /usr/local/bin/pweb-entrypoint \
 && setcap cap_net_bind_service=+ep /usr/local/bin/pweb-node \
 && getcap /usr/local/bin/pweb-node | grep -q cap_net_bind_service \
 && DEBIAN_FRONTEND=noninteractive apt-get purge -y -q --auto-remove libcap2-bin \
 && pweb-node --version

USER pweb
WORKDIR /var/lib/pweb
VOLUME /var/lib/pweb
# DNS (UDP+TCP), HTTP API, DNS-Gateway protocol, DHT (UDP).
EXPOSE 53/udp 53/tcp 8053/tcp 4450/tcp 4222/udp

# PWEB_HEALTH_URL for a node whose --http-listen is not on port 8053.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS -o /dev/null --max-time 4 "${PWEB_HEALTH_URL:-http://127.0.0.1:8053/api/v1/status}" || exit 1

ENTRYPOINT ["pweb-entrypoint"]
# A node with no label (DHT member that resolves every agent's names). Give
# --label for an agent or --home-agent for a gateway; see docker-compose.yml.
CMD ["--data-dir", "/var/lib/pweb", "--dns-listen", "0.0.0.0:53", \
     "--http-listen", "0.0.0.0:8053", "--gateway-listen", "0.0.0.0:4450"]
