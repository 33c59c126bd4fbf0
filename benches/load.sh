#!/usr/bin/env bash
# Throughput of one scimd process under wrk (Debian package `wrk`), on the release build.
#   bash benches/load.sh            # embedded SQLite in a temporary directory
#   bash benches/load.sh postgres   # a fresh Postgres database on $PG_URL's server
# Rate limiting is off: this measures the server, not the overload guard.
set -euo pipefail
cd "$(dirname "$0")/.."
store=${1:-sqlite}
duration=${DURATION:-10s}
command -v wrk >/dev/null || { echo "load: needs wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --release --quiet
bin=$PWD/target/release/scimd
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pg_admin=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db=scimd_load_$$
case $store in
    sqlite) export DATABASE_URL="sqlite://$work/scimd.db" ;;
    postgres) export DATABASE_URL="${pg_admin%/*}/$db" ;;
    *) echo "load: store is sqlite or postgres" >&2; exit 2 ;;
esac
export SCIMD_LOG_LEVEL=warn SCIMD_RATE_LIMIT_PER_SECOND=0
"$bin" serve --bootstrap --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
pid=$!
cleanup() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    [ "$store" = postgres ] && psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 50); do grep -q '^export SCIM_TOKEN' "$work/server.log" 2>/dev/null && break; sleep 0.2; done
eval "$(grep '^export ' "$work/server.log")"
auth="Authorization: Bearer $SCIM_TOKEN"
for i in $(seq 1 1000); do
    curl -s -o /dev/null -H "$auth" -H "Content-Type: application/scim+json" \
        -d "{\"userName\":\"u$i@example.com\",\"emails\":[{\"value\":\"u$i@example.com\",\"primary\":true}]}" "$SCIM_BASE/Users"
done
user=$(curl -s -H "$auth" "$SCIM_BASE/Users?filter=userName%20eq%20%22u5@example.com%22" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Resources"][0]["id"])')
cat >"$work/patch.lua" <<'LUA'
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/scim+json"
wrk.body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"X"}]}'
LUA
cat >"$work/post.lua" <<'LUA'
local n = 0
setup = function(thread) n = n + 1; thread:set("tid", n) end
counter = 0
wrk.headers["Content-Type"] = "application/scim+json"
request = function()
  counter = counter + 1
  return wrk.format("POST", nil, nil, string.format('{"userName":"load-%d-%d@example.com"}', tid, counter))
end
LUA
run() {
    local label=$1
    shift
    local out
    out=$(wrk -t2 -c16 -d"$duration" --latency -H "$auth" "$@")
    printf '%-44s %10s req/s   p50 %-8s p99 %-8s non-2xx %s\n' "$label" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
        "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")" \
        "$(awk '/Non-2xx/ {print $5}' <<<"$out" | grep . || echo 0)"
}
echo "store: $store, 1,000 users, wrk -t2 -c16 -d$duration"
run "GET /Users?filter=userName eq" "$SCIM_BASE/Users?filter=userName%20eq%20%22u777@example.com%22"
run "GET /Users/{id}" "$SCIM_BASE/Users/$user"
run "GET /Users?startIndex=1&count=100" "$SCIM_BASE/Users?startIndex=1&count=100"
run "PATCH /Users/{id} (displayName)" -s "$work/patch.lua" "$SCIM_BASE/Users/$user"
run "POST /Users (new user each)" -s "$work/post.lua" "$SCIM_BASE/Users"
if grep -qE '"level":"ERROR"|panicked' "$work/server.log"; then
    echo "load: the server logged errors:" >&2; grep -E '"level":"ERROR"|panicked' "$work/server.log" | head >&2
    exit 1
fi
