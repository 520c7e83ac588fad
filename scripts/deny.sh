#!/usr/bin/env bash
# Edits the KV deny list (the DENY_LIST binding, README "Revocation without a redeploy")
# with wrangler: one key per entry, `jti:<value>` or `sub:<value>`; the stored value is the
# reason (the gateway does not read it).
#
# Usage: scripts/deny.sh add jti|sub VALUE [REASON] [--ttl SECONDS] [--local]
#        scripts/deny.sh remove jti|sub VALUE [--local]
#        scripts/deny.sh list [--local]
#   --ttl    the entry lapses after SECONDS (at least 60, KV's minimum): use the token's
#            remaining lifetime, after which `exp` refuses it anyway
#   --local  wrangler dev's local namespace instead of the deployed one (--remote)
#   --       ends the options: a VALUE that starts with "-" comes after it
#   WRANGLER="npx wrangler" (default) runs wrangler; extra wrangler flags go in WRANGLER_FLAGS
#   (split on spaces; e.g. "--env production" or "--config other.toml", paths relative to
#   the repository root).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EG_ROOT"

usage="Usage: scripts/deny.sh add jti|sub VALUE [REASON] [--ttl SECONDS] [--local] | remove jti|sub VALUE [--local] | list [--local]"
where=(--remote)
ttl=()
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --local) where=(--local) ;;
    --ttl)
      [ $# -ge 2 ] || eg_die "--ttl needs a number of seconds" "$usage"
      [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge 60 ] ||
        eg_die "--ttl must be a whole number of seconds, at least 60 (KV's minimum); got '$2'" "$usage"
      ttl=(--ttl "$2")
      shift
      ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --)
      shift
      args+=("$@")
      break
      ;;
    -*) eg_die "unknown option '$1' (a value starting with '-' goes after --)" "$usage" ;;
    *) args+=("$1") ;;
  esac
  shift
done
[ ${#args[@]} -ge 1 ] || eg_die "no command" "$usage"

entry() {
  case "$1" in
    jti | sub) ;;
    *) eg_die "the kind must be jti or sub, not '$1'" "$usage" ;;
  esac
  [ -n "$2" ] || eg_die "the $1 value is empty" "$usage"
  printf '%s:%s' "$1" "$2"
}

read -r -a wrangler <<<"${WRANGLER:-npx wrangler}"
read -r -a flags <<<"${WRANGLER_FLAGS:-}"
kv=("${wrangler[@]}" kv key)
case "${args[0]}" in
  add)
    [ ${#args[@]} -ge 3 ] && [ ${#args[@]} -le 4 ] || eg_die "add takes a kind, a value and an optional reason" "$usage"
    key="$(entry "${args[1]}" "${args[2]}")"
    [[ "${args[3]:-}" != -* ]] || eg_die "the reason must not start with '-' (wrangler would read it as an option)" "$usage"
    eg_log "revoking $key (seen everywhere within about 60 s plus DENY_LIST_TTL_SECONDS)"
    exec "${kv[@]}" put "$key" "${args[3]:-revoked $(date -u +%FT%TZ)}" --binding DENY_LIST "${ttl[@]}" "${where[@]}" "${flags[@]}"
    ;;
  remove)
    [ ${#args[@]} -eq 3 ] || eg_die "remove takes a kind and a value" "$usage"
    [ ${#ttl[@]} -eq 0 ] || eg_die "--ttl is for add" "$usage"
    key="$(entry "${args[1]}" "${args[2]}")"
    eg_log "removing $key"
    exec "${kv[@]}" delete "$key" --binding DENY_LIST "${where[@]}" "${flags[@]}"
    ;;
  list)
    [ ${#args[@]} -eq 1 ] || eg_die "list takes no arguments" "$usage"
    [ ${#ttl[@]} -eq 0 ] || eg_die "--ttl is for add" "$usage"
    exec "${kv[@]}" list --binding DENY_LIST "${where[@]}" "${flags[@]}"
    ;;
  *) eg_die "unknown command '${args[0]}'" "$usage" ;;
esac
