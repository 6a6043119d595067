#!/usr/bin/env bash
# PostgreSQL for the pweb nodes of one label (docker-compose.ha.yml). On the
# first start (an empty PGDATA volume) makes the cluster, the role PWEB_PG_USER
# and its database PWEB_PG_DB; then becomes the server (exec: PID 1, gets
# docker's SIGTERM, which is PostgreSQL's "smart" shutdown).
#
#   PWEB_PG_USER=pweb      the role the nodes connect as (no password)
#   PWEB_PG_DB=pweb        its database
#   PWEB_PG_ALLOW=samenet  who may connect over TCP (pg_hba address field):
#                          samenet = the container's own networks, i.e. the
#                          compose network; nobody else (no published port)
set -euo pipefail

bin=/usr/lib/postgresql/15/bin
data="${PGDATA:-/var/lib/postgresql/data}"
user="${PWEB_PG_USER:-pweb}"
db="${PWEB_PG_DB:-pweb}"
allow="${PWEB_PG_ALLOW:-samenet}"
socket_dir=/tmp # /run/postgresql is not there without the init scripts

log() { printf 'pweb-postgres: %s\n' "$*" >&2; }

if [[ ! "$user" =~ ^[a-z_][a-z0-9_]*$ || ! "$db" =~ ^[a-z_][a-z0-9_]*$ ]]; then
  log "PWEB_PG_USER and PWEB_PG_DB must be plain lowercase identifiers"
  exit 2
fi

if [[ ! -s "$data/PG_VERSION" ]]; then
  log "first start: making the cluster in $data"
  "$bin/initdb" -D "$data" --username=postgres --encoding=UTF8 --locale=C \
    --auth-local=peer --auth-host=reject >/dev/null
  # Trust on the compose network only: it is private to this project, and the
  # port is not published on the host.
  cat >"$data/pg_hba.conf" <<HBA
local all postgres peer
host  $db $user $allow trust
HBA
  "$bin/pg_ctl" -D "$data" -o "-c listen_addresses='' -c unix_socket_directories=$socket_dir" \
    -w -t 60 start >/dev/null
  psql -h "$socket_dir" -U postgres -v ON_ERROR_STOP=1 -q \
    -c "CREATE ROLE $user LOGIN" -c "CREATE DATABASE $db OWNER $user"
  "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
  log "made role $user and database $db"
fi

exec "$bin/postgres" -D "$data" -c listen_addresses='*' -c "unix_socket_directories=$socket_dir"
