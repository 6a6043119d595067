#!/usr/bin/env bash
# Container entrypoint: creates the first user accounts from the environment,
# then becomes pweb-node (exec, so it is PID 1 and gets docker's SIGTERM).
#
#   PWEB_USERS="alice:secret,bob:pw2"   name:password pairs, comma-separated
#   PWEB_USERS_FILE=/run/secrets/users  one name:password per line (# comments);
#                                       for passwords with commas, or docker secrets
#   PWEB_DATA_DIR=/var/lib/pweb         used when the arguments have no --data-dir
#   PWEB_IDENTITY_BUNDLE=FILE           a label's shared identity (`pweb-node identity
#                                       export`), imported into the data dir first; a
#                                       different identity there stops the start
#
# With `--store URI` in the arguments the users go to that store (several nodes
# of one label may add the same user at once: whoever comes second finds it).
#
# Users that already exist are left alone (their passwords are not changed), so
# restarting a container is harmless. Passwords only ever go to pweb-node's
# standard input: they are never printed and never on a command line.
set -euo pipefail

# `command: pweb-node --label uw ...` and `command: --label uw ...` both work.
if [[ "${1:-}" == "pweb-node" ]]; then shift; fi

# Admin subcommands (user, device), --help and --version: run them as they are.
case "${1:-}" in
  user | device | identity | pin | ca | -h | --help | --version)
    unset PWEB_USERS
    exec pweb-node "$@"
    ;;
esac

data_dir="${PWEB_DATA_DIR:-/var/lib/pweb}"
gateway_mode=0
store=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --data-dir) data_dir="${args[i + 1]:-$data_dir}" ;;
    --data-dir=*) data_dir="${args[i]#--data-dir=}" ;;
    --store) store=(--store "${args[i + 1]:-}") ;;
    --store=*) store=(--store "${args[i]#--store=}") ;;
    --home-agent | --home-agent=*) gateway_mode=1 ;;
  esac
done

log() { printf 'pweb-entrypoint: %s\n' "$*" >&2; }

# All name:password entries, one per line, from both variables.
entries() {
  if [[ -n "${PWEB_USERS:-}" ]]; then tr ',' '\n' <<<"$PWEB_USERS"; fi
  if [[ -n "${PWEB_USERS_FILE:-}" ]]; then
    if [[ ! -r "$PWEB_USERS_FILE" ]]; then
      log "PWEB_USERS_FILE=$PWEB_USERS_FILE is not readable"
      return 1
    fi
    grep -v '^[[:space:]]*#' "$PWEB_USERS_FILE" || true
  fi
}

if [[ -n "${PWEB_IDENTITY_BUNDLE:-}" ]] && ((!gateway_mode)); then
  mkdir -p "$data_dir"
  if ! pweb-node identity import --data-dir "$data_dir" <"$PWEB_IDENTITY_BUNDLE" >/dev/null; then
    log "could not import the identity $PWEB_IDENTITY_BUNDLE (see the message above)"
    exit 1
  fi
  log "identity from $PWEB_IDENTITY_BUNDLE in place"
fi

if [[ -n "${PWEB_USERS:-}${PWEB_USERS_FILE:-}" ]]; then
  if ((gateway_mode)); then
    log "gateway mode (--home-agent) keeps no users; PWEB_USERS ignored"
  else
    mkdir -p "$data_dir"
    existing="$(pweb-node user list --data-dir "$data_dir" "${store[@]}")"
    list="$(entries)"
    while IFS= read -r entry; do
      entry="${entry#"${entry%%[![:space:]]*}"}" # trim leading blanks
      [[ -z "$entry" ]] && continue
      if [[ "$entry" != *:* ]]; then
        # Not the entry itself: it may be a password someone put there by mistake.
        log "ignoring a PWEB_USERS entry without ':' (expected name:password)"
        continue
      fi
      name="${entry%%:*}"
      name="${name,,}" # pweb-node stores names lowercase
      password="${entry#*:}"
      password="${password%$'\r'}"
      if grep -qxF -- "$name" <<<"$existing"; then
        log "user $name exists, left as it is"
        continue
      fi
      # printf is a builtin: the password is not in any process's arguments.
      if printf '%s\n' "$password" |
        pweb-node user add "$name" --password-stdin --data-dir "$data_dir" "${store[@]}" \
          >/dev/null; then
        log "user $name added"
        existing+=$'\n'"$name"
      elif ((${#store[@]})) &&
        pweb-node user list --data-dir "$data_dir" "${store[@]}" | grep -qxF -- "$name"; then
        log "user $name was added by another node of the store"
      else
        log "could not add user $name (see the message above)"
        exit 1
      fi
    done <<<"$list"
    unset list entry password
  fi
fi

# The node does not need them: keep passwords out of its /proc/1/environ.
unset PWEB_USERS PWEB_USERS_FILE
exec pweb-node "$@"
