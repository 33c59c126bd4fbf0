#!/usr/bin/env bash
# Two scimd processes on one Postgres database against one: the same total load (two wrk
# clients, -c8 each) sent to one process, then split over two, in one run, for GET /Users/{id}
# and POST /Users, with the same number of database connections in all (POOL, default 10:
# one process with POOL, two with POOL/2 each). Says what a second replica buys on this
# machine. See docs/scaling.md.
#   bash benches/replicas.sh
#   DURATION=10s SCIMD_BIN=/path/to/scimd bash benches/replicas.sh
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-8s}
pool=${POOL:-10}
pg_admin=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
command -v wrk >/dev/null || { echo "replicas: needs wrk (apt-get install wrk)" >&2; exit 1; }
[ -n "${SCIMD_BIN:-}" ] || cargo build --release --quiet
bin=${SCIMD_BIN:-$PWD/target/release/scimd}
db=scimd_replicas_$$
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
export DATABASE_URL="${pg_admin%/*}/$db"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The first process creates the database, the account and the token; the second shares them.
start() { # port, log, pool size, extra args
    SCIMD_LOG_LEVEL=warn SCIMD_RATE_LIMIT_PER_SECOND=0 SCIMD_DATABASE_MAX_CONNECTIONS=$3 "$bin" serve --listen "127.0.0.1:$1" "${@:4}" >"$2" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.2; done
    echo "replicas: scimd on port $1 did not become ready:" >&2; cat "$2" >&2; exit 1
}
port_a=$(free_port); port_b=$(free_port)
start "$port_a" "$work/a.log" "$pool" --bootstrap
for _ in $(seq 1 100); do grep -q '^export SCIM_TOKEN' "$work/a.log" && break; sleep 0.2; done
eval "$(grep '^export ' "$work/a.log")"
path=${SCIM_BASE#http://127.0.0.1:"$port_a"}
auth="Authorization: Bearer $SCIM_TOKEN"
user=$(curl -fs -X POST -H "$auth" -H 'Content-Type: application/scim+json' \
    -d '{"userName":"replica@example.com"}' "$SCIM_BASE/Users" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
cat >"$work/post.lua" <<'LUA'
local counter, tid = 0, math.random(1, 1e9)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/scim+json"
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, string.format('{"userName":"r-%d-%d@example.com"}', tid, counter))
end
LUA

# Two wrk clients at once; prints their summed req/s.
pair() { # port of client 1, port of client 2, wrk args...
    local p1=$1 p2=$2; shift 2
    wrk -t1 -c8 -d"$duration" -H "$auth" "$@" "http://127.0.0.1:$p1$path$target" >"$work/w1" &
    local w1=$!
    wrk -t1 -c8 -d"$duration" -H "$auth" "$@" "http://127.0.0.1:$p2$path$target" >"$work/w2"
    wait "$w1"
    awk '/Requests\/sec/ {s += $2} END {printf "%.0f", s}' "$work/w1" "$work/w2"
}
declare -A one two
target="/Users/$user"; one[get]=$(pair "$port_a" "$port_a")
target="/Users"; one[post]=$(pair "$port_a" "$port_a" -s "$work/post.lua")
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()
start "$port_a" "$work/a2.log" $((pool / 2))
start "$port_b" "$work/b.log" $((pool / 2))
target="/Users/$user"; two[get]=$(pair "$port_a" "$port_b")
target="/Users"; two[post]=$(pair "$port_a" "$port_b" -s "$work/post.lua")
if grep -qE '"level":"ERROR"|panicked' "$work"/*.log; then
    echo "replicas: a server logged errors" >&2; grep -hE '"level":"ERROR"|panicked' "$work"/*.log | head >&2; exit 1
fi
echo "two wrk clients (-t1 -c8 each, $duration), one Postgres database, $pool connections in all; $(nproc) cores shared by everything"
printf '%-22s %14s %14s %7s\n' workload "one process" "two processes" ratio
for w in get post; do
    printf '%-22s %12s/s %12s/s %7s\n' "$( [ $w = get ] && echo 'GET /Users/{id}' || echo 'POST /Users')" \
        "${one[$w]}" "${two[$w]}" "$(python3 -c "print(f'{${two[$w]}/${one[$w]}:.2f}')")"
done
