#!/usr/bin/env bash
# Throughput of one scimd process under wrk (Debian package `wrk`), on the release build, beside
# what the raw database under it does in the same run (pgbench for Postgres; benches/raw_sqlite.rs
# with scimd's pragmas for SQLite), printed as ratios: the machine is shared and noisy, so only
# numbers measured together are compared.
#   bash benches/load.sh                 # both stores
#   bash benches/load.sh sqlite          # embedded SQLite in a temporary directory
#   bash benches/load.sh postgres        # a fresh Postgres database on $PG_URL's server
#   DURATION=15s CONNECTIONS=16 bash benches/load.sh
#   SCIMD_BIN=/path/to/other/scimd bash benches/load.sh   # another build, for before/after
#   WORKLOADS="post id" bash benches/load.sh   # some workloads only (post eq id page small big
#                                              # spread groups floor); SCIMD_* settings reach scimd
#   PROFILE=dir bash benches/load.sh   # also, per workload: the CPU each process used (scimd,
#                                      # Postgres, the rest) and scimd's profile (perf record,
#                                      # Debian's linux-perf) with its top costs, into dir
#   PROFILE=dir PROFILE_GRAPH=dwarf …   # the profile with whole call chains (perf's
#                                      # --call-graph dwarf: larger, slower; for perf report -G)
# On Postgres it also runs, with scimd stopped, pgbench over scimd's own statements for a create
# and a GET by id, and over one row changed by every connection (the ceiling of changes to one
# group): the column scimd/same-statements is scimd's rate against those.
# Rate limiting is off: this measures the server, not the overload guard. It fails if the
# server logs an error. See docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
stores=${1:-both}
[ "$stores" = both ] && stores="sqlite postgres"
duration=${DURATION:-10s}
seconds=${duration%s}
conns=${CONNECTIONS:-16}
workloads=" ${WORKLOADS:-post eq id page small big spread groups floor} "
pg_admin=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
command -v wrk >/dev/null || { echo "load: needs wrk (apt-get install wrk)" >&2; exit 1; }
if [ -n "${PROFILE:-}" ]; then
    command -v perf >/dev/null || { echo "load: PROFILE needs perf (apt-get install linux-perf)" >&2; exit 1; }
    mkdir -p "$PROFILE"
fi
pgbench=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -n1 || true)
[ -n "${SCIMD_BIN:-}" ] || cargo build --release --quiet
cargo bench --quiet --bench raw_sqlite --no-run 2>/dev/null
raw_sqlite=$(ls -t target/release/deps/raw_sqlite-* | grep -v '\.d$' | head -n1)
bin=${SCIMD_BIN:-$PWD/target/release/scimd}

# wrk's summary of one workload: "req/s p50 p99 non2xx".
wrk_run() {
    local out
    out=$(wrk -t2 -c"$conns" -d"$duration" --latency -H "$auth" "$@")
    printf '%s %s %s %s\n' \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
        "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")" \
        "$(awk '/Non-2xx/ {print $5}' <<<"$out" | grep . || echo 0)"
}

# Clock ticks used so far: "all scimd postgres" (all = every process on the machine), from /proc.
# Postgres's are its postmaster's own and those of the backends it has reaped (cutime, cstime),
# plus its live processes': so a backend that exits during the run is still counted.
cpu_ticks() {
    local pg=0 postmaster t
    postmaster=$(pgrep -o -x postgres || true)
    if [ -n "$postmaster" ]; then
        pg=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$postmaster/stat" 2>/dev/null || echo 0)
        for t in $(pgrep -P "$postmaster"); do
            pg=$((pg + $(awk '{print $14 + $15}' "/proc/$t/stat" 2>/dev/null || echo 0)))
        done
    fi
    echo "$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat)" \
        "$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)" "$pg"
}

# pgbench over the scripts $2 then $3 on the database $1, each for the run's duration with its
# connections; sets pair to (rate of $2, rate of $3, Postgres's CPU per transaction of each in
# µs). A script pgbench cannot run stops the harness with pgbench's own words.
pgbench_pair() {
    local url=$1 out t rates=() ticks
    ticks=("$(cpu_ticks)")
    for t in "$2" "$3"; do
        out=$("$pgbench" -n -M prepared -c "$conns" -j 2 -T "$seconds" -f "$t" "$url" 2>&1) ||
            { echo "load: pgbench $t failed:" >&2; tail -n 5 <<<"$out" >&2; exit 1; }
        rates+=("$(awk '/^tps/ {print $3}' <<<"$out" | head -n1)")
        ticks+=("$(cpu_ticks)")
    done
    read -r -a pair <<<"$(awk -v a="${ticks[0]##* }" -v b="${ticks[1]##* }" -v c="${ticks[2]##* }" \
        -v i="${rates[0]}" -v l="${rates[1]}" -v hz="$(getconf CLK_TCK)" -v secs="$seconds" \
        'BEGIN { printf "%s %s %.0f %.0f", i, l, 1e6*(b-a)/hz/(i*secs), 1e6*(c-b)/hz/(l*secs) }')"
}

# The first $2 lines of the profile's report sorted by $1 (dso or sym), long names cut.
perf_top() {
    { perf report -i "$PROFILE/$store-$key.perf" --no-children --sort "$1" --stdio -g none 2>/dev/null || true; } |
        awk -v n="$2" '/^ +[0-9]/ && shown++ < n {print substr($0, 1, 140)}'
}

# PROFILE: the share of the two cores each process used during one workload, and the top of
# scimd's profile by library and by function, into $PROFILE/<store>-<workload>.txt.
profile_summary() {
    local key=$1 out="$PROFILE/$store-$key.txt"
    read -r a0 s0 p0 <<<"$2"
    read -r a1 s1 p1 <<<"$3"
    kill -INT "$4" 2>/dev/null; wait "$4" 2>/dev/null || true
    local hz; hz=$(getconf CLK_TCK)
    {
        echo "$store $key: ${r[$key]%% *} req/s; CPU over the run, in % of one core (this machine has $(nproc)):"
        awk -v a=$((a1 - a0)) -v s=$((s1 - s0)) -v p=$((p1 - p0)) -v hz="$hz" -v secs="$seconds" \
            -v rate="${r[$key]%% *}" -v store="$store" \
            'BEGIN { printf "  scimd %.0f %%, postgres %.0f %%, everything else (wrk, kernel threads) %.0f %%\n",
                     100*s/hz/secs, 100*p/hz/secs, 100*(a-s-p)/hz/secs
                     printf "  CPU per request: scimd %.0f us", 1e6*s/hz/(rate*secs)
                     if (store == "postgres") printf ", postgres %.0f us", 1e6*p/hz/(rate*secs)
                     printf "\n" }'
        echo "scimd's samples by library:"
        perf_top dso 6
        echo "scimd's top functions (self):"
        perf_top sym 20
    } >"$out"
    cat "$out" >&2
}

one_store() {
    local store=$1 work port db pid
    work=$(mktemp -d)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    db=scimd_load_$$_$store
    case $store in
        sqlite) export DATABASE_URL="sqlite://$work/scimd.db" ;;
        postgres) export DATABASE_URL="${pg_admin%/*}/$db" ;;
        *) echo "load: store is sqlite or postgres" >&2; exit 2 ;;
    esac
    SCIMD_LOG_LEVEL=warn SCIMD_RATE_LIMIT_PER_SECOND=0 \
        "$bin" serve --bootstrap --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
    pid=$!
    # shellcheck disable=SC2064
    trap "kill $pid 2>/dev/null; wait $pid 2>/dev/null; psql '$pg_admin' -qc 'DROP DATABASE IF EXISTS $db WITH (FORCE)' >/dev/null 2>&1; rm -rf '$work'" EXIT
    for _ in $(seq 1 100); do grep -q '^export SCIM_TOKEN' "$work/server.log" 2>/dev/null && break; sleep 0.2; done
    eval "$(grep '^export ' "$work/server.log")"
    auth="Authorization: Bearer $SCIM_TOKEN"

    # 5,100 users through /Bulk, a group of 10 and one of 5,000 members, 200 groups to list.
    python3 - "$SCIM_BASE" "$SCIM_TOKEN" "$work" <<'PY'
import json, sys, urllib.request
base, token, work = sys.argv[1:4]
def call(method, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method=method,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/scim+json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r) if r.status != 204 else None
ids = []
for start in range(0, 5100, 1000):
    ops = [{"method": "POST", "path": "/Users", "bulkId": str(i),
            "data": {"userName": f"u{i}@example.com", "emails": [{"value": f"u{i}@example.com", "primary": True}]}}
           for i in range(start, min(start + 1000, 5100))]
    out = call("POST", "/Bulk", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops})
    ids += [o["location"].rsplit("/", 1)[1] for o in out["Operations"]]
small = call("POST", "/Groups", {"displayName": "small", "members": [{"value": i} for i in ids[:10]]})
big = call("POST", "/Groups", {"displayName": "big", "members": [{"value": i} for i in ids[:5000]]})
groups = [call("POST", "/Groups", {"displayName": f"g{g}"})["id"] for g in range(200)]
open(work + "/ids", "w").write("\n".join(ids[5000:5100]) + "\n")
open(work + "/groups", "w").write("\n".join(groups) + "\n")
open(work + "/env", "w").write(f"user={ids[5]}\nsmall={small['id']}\nbig={big['id']}\n")
PY
    # shellcheck disable=SC1091
    . "$work/env"
    # A membership PATCH per request, as Okta and Entra send it (a value list), over the groups
    # listed in the file $1: request n changes group n mod #groups, so with several groups the
    # requests in flight together change different groups. Each wrk thread has its own half of
    # the 100 users, so two threads never add or remove the same membership; each adds its half
    # to every group in turn (a new membership each time), then removes them again.
    member_lua() {
        cat <<LUA
local ids, groups = {}, {}
for line in io.lines("$work/ids") do ids[#ids + 1] = line end
for line in io.lines("$1") do groups[#groups + 1] = line end
local threads = 0
setup = function(thread) thread:set("tid", threads); threads = threads + 1 end
local n = 0
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/scim+json"
request = function()
  local half = #ids / 2
  local g = groups[(n % #groups) + 1]
  local id = ids[tid * half + (math.floor(n / #groups) % half) + 1]
  local op = (math.floor(n / (#groups * half)) % 2 == 0) and "add" or "remove"
  n = n + 1
  return wrk.format(nil, "$SCIM_BASE/Groups/" .. g, nil,
    '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"' .. op ..
    '","path":"members","value":[{"value":"' .. id .. '"}]}]}')
end
LUA
    }
    echo "$small" >"$work/small"
    echo "$big" >"$work/big"
    member_lua "$work/small" >"$work/small.lua"
    member_lua "$work/big" >"$work/big.lua"
    member_lua "$work/groups" >"$work/spread.lua"
    cat >"$work/post.lua" <<'LUA'
local n = 0
setup = function(thread) n = n + 1; thread:set("tid", n) end
counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/scim+json"
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, string.format('{"userName":"load-%d-%d@example.com"}', tid, counter))
end
LUA
    declare -A r
    run() { # key, then wrk's arguments; only the workloads asked for
        local key=$1; shift
        [[ $workloads == *" $key "* ]] || return 0
        if [ -z "${PROFILE:-}" ]; then
            r[$key]=$(wrk_run "$@")
            return 0
        fi
        local perf_pid before
        rm -f "$PROFILE/$store-$key.perf"
        # Frame pointers by default (cheap, but Rust's release build keeps none, so the chains
        # stop at the first frame); PROFILE_GRAPH=dwarf unwinds from a copy of the stack.
        perf record -q -F 499 --call-graph "${PROFILE_GRAPH:-fp}" -p "$pid" -o "$PROFILE/$store-$key.perf" >/dev/null 2>&1 &
        perf_pid=$!
        before=$(cpu_ticks)
        r[$key]=$(wrk_run "$@")
        profile_summary "$key" "$before" "$(cpu_ticks)" "$perf_pid"
    }
    run post -s "$work/post.lua" "$SCIM_BASE/Users"
    run eq "$SCIM_BASE/Users?filter=userName%20eq%20%22u777@example.com%22"
    run id "$SCIM_BASE/Users/$user"
    run page "$SCIM_BASE/Users?startIndex=1&count=100"
    run small -s "$work/small.lua" "$SCIM_BASE/Groups/$small"
    run big -s "$work/big.lua" "$SCIM_BASE/Groups/$big"
    run spread -s "$work/spread.lua" "$SCIM_BASE/Groups"
    run groups "$SCIM_BASE/Groups?count=100&excludedAttributes=members"
    # The ceiling of HTTP itself on this machine: a route through the same server and
    # middleware that touches no database and no token. No request can be faster than this.
    run floor "http://127.0.0.1:$port/healthz"
    local rss
    rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$pid/status")

    # The raw database, on the same machine in the same run.
    local raw_insert raw_lookup raw_cpu="" same_create="" same_lookup="" same_cpu="" hot_update="" hot_member=""
    case $store in
        sqlite)
            local raw
            raw=$("$raw_sqlite" "$work/raw.db" "$seconds" "$conns")
            raw_insert=$(awk '$1=="insert" {print $2}' <<<"$raw")
            raw_lookup=$(awk '$1=="lookup" {print $2}' <<<"$raw")
            ;;
        postgres)
            [ -n "$pgbench" ] || { echo "load: needs pgbench (Debian's postgresql-client)" >&2; exit 1; }
            local url="${pg_admin%/*}/$db"
            psql "$url" -qc "CREATE TABLE raw_users (account_id uuid, id uuid, user_name text NOT NULL, doc jsonb NOT NULL,
                PRIMARY KEY (account_id, id)); CREATE UNIQUE INDEX ON raw_users (account_id, user_name);
                INSERT INTO raw_users SELECT '00000000-0000-0000-0000-000000000001', gen_random_uuid(), 'seed' || i,
                jsonb_build_object('userName', 'seed' || i) FROM generate_series(1, 10000) i; ANALYZE raw_users" >/dev/null
            cat >"$work/insert.sql" <<'SQL'
\set n random(1, 1000000000)
INSERT INTO raw_users VALUES ('00000000-0000-0000-0000-000000000001', gen_random_uuid(), 'r' || :n || '-' || :client_id || '-' || random(), jsonb_build_object('userName', 'r' || :n));
SQL
            # A primary-key lookup of a known id, as GET /Users/{id} is.
            local one_id
            one_id=$(psql "$url" -Atqc "SELECT id FROM raw_users LIMIT 1")
            printf "SELECT doc FROM raw_users WHERE account_id = '00000000-0000-0000-0000-000000000001' AND id = '%s';\n" "$one_id" >"$work/lookup.sql"
            pgbench_pair "$url" "$work/insert.sql" "$work/lookup.sql"
            raw_insert=${pair[0]} raw_lookup=${pair[1]}
            # Postgres's own CPU per raw operation, to set beside scimd's (PROFILE's summaries).
            raw_cpu="; Postgres CPU per insert ${pair[2]} us, per lookup ${pair[3]} us"
            # The same work as scimd's, by Postgres alone: a create's own statements (R4's lookup,
            # the user with its counting trigger, the audit row with its feed event and the
            # day's count, in one transaction; the user's name taken from a sequence first) and
            # a GET's own statement (the user with its groups), on the server's own tables and
            # account, with the server stopped. What scimd adds is the distance to these; what
            # the data model writes is the distance from these to the raw rows above.
            local account=${SCIM_BASE##*/}
            kill "$pid"; wait "$pid" 2>/dev/null || true
            psql "$url" -qc "CREATE SEQUENCE raw_same_seq" >/dev/null
            cat >"$work/same_create.sql" <<SQL
SELECT 'same-' || nextval('raw_same_seq') || '@example.com' AS name \\gset
BEGIN;
SELECT * FROM (SELECT u.* FROM unnest(CAST(ARRAY[:name::text] AS text[])) AS k(key)
    CROSS JOIN LATERAL (SELECT account_id, id, doc, source, idp_managed, created_at, last_modified, version,
        CAST(NULL AS TEXT) AS identifier FROM users WHERE account_id = '$account' AND user_name_ci = k.key OFFSET 0) u
  UNION SELECT u.* FROM unnest(CAST(ARRAY[:name::text] AS text[])) AS k(key)
    CROSS JOIN LATERAL (SELECT account_id, id, doc, source, idp_managed, created_at, last_modified, version,
        CAST(NULL AS TEXT) AS identifier FROM users WHERE account_id = '$account' AND primary_email_ci = k.key OFFSET 0) u
  ) AS found ORDER BY id;
INSERT INTO users (account_id, id, user_name, user_name_ci, external_id, display_name, display_name_ci, active, doc,
    source, idp_managed, primary_email_ci, created_at, last_modified)
  VALUES ('$account', gen_random_uuid(), :name, :name, NULL, NULL, NULL, true,
    jsonb_build_object('active', true, 'userName', :name::text), 'scim', true, NULL, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
  RETURNING account_id, id, doc, source, idp_managed, created_at, last_modified, version \\gset
WITH audit AS (INSERT INTO audit_events (account_id, id, at, actor_kind, actor_token_id, actor_idp, actor_name, action,
      resource_type, resource_id, before, after, delta)
    VALUES ('$account', gen_random_uuid(), CURRENT_TIMESTAMP, 'scim', NULL, 'scim', NULL, 'user.create', 'User', :id, NULL,
      jsonb_build_object('active', true, 'source', 'scim', 'userName', :name::text, 'idp_managed', true), NULL)
    RETURNING id),
  free AS (SELECT shard FROM audit_activity WHERE account_id = '$account' AND day = (CURRENT_TIMESTAMP AT TIME ZONE 'UTC')::date
      AND source = 'scim' ORDER BY shard LIMIT 1 FOR UPDATE SKIP LOCKED),
  activity AS (INSERT INTO audit_activity AS a (account_id, day, source, shard, n)
    VALUES ('$account', (CURRENT_TIMESTAMP AT TIME ZONE 'UTC')::date, 'scim',
      COALESCE((SELECT shard FROM free), ((SELECT COALESCE(max(shard), -1) + 1 + pg_backend_pid() % 16 FROM audit_activity
        WHERE account_id = '$account' AND day = (CURRENT_TIMESTAMP AT TIME ZONE 'UTC')::date AND source = 'scim') % 32767)::smallint), 1)
    ON CONFLICT (account_id, day, source, shard) DO UPDATE SET n = a.n + 1)
INSERT INTO events (account_id, audit_id, type, resource_type, resource_id, external_id, member_id, changed, at)
  SELECT '$account', (SELECT id FROM audit), x.type, x.resource_type, x.resource_id, x.external_id, x.member_id, x.changed,
    CURRENT_TIMESTAMP
  FROM jsonb_to_recordset(jsonb_build_array(jsonb_build_object('type', 'user.created', 'resource_type', 'User',
    'resource_id', :id::text))) AS x(type text, resource_type text, resource_id text, external_id text, member_id uuid, changed text);
COMMIT;
SQL
            cat >"$work/same_get.sql" <<SQL
SELECT u.account_id, u.id, u.doc, u.source, u.idp_managed, u.created_at, u.last_modified, u.version,
    CAST(NULL AS TEXT) AS identifier, g.id AS group_id, g.display_name AS group_name, g.idp_managed AS group_managed
  FROM users u
  LEFT JOIN group_members m ON m.account_id = u.account_id AND m.member_id = u.id
  LEFT JOIN groups g ON g.account_id = m.account_id AND g.id = m.group_id
  WHERE u.account_id = '$account' AND u.id = '$user'
  ORDER BY g.display_name, g.id;
SQL
            pgbench_pair "$url" "$work/same_create.sql" "$work/same_get.sql"
            same_create=${pair[0]} same_lookup=${pair[1]}
            same_cpu="; Postgres CPU per create ${pair[2]} us, per GET ${pair[3]} us"
            # One row changed by every connection at once, as every PATCH of one group bumps
            # that group's version: the UPDATE alone, then the smallest transaction shaped like
            # a member push (a row that references it by a foreign key, then the UPDATE, then
            # COMMIT). Each waits for the one before it to commit, so this is the ceiling of
            # changes to one group per second on this database, whatever the server.
            psql "$url" -qc "CREATE TABLE raw_hot (id int PRIMARY KEY, v bigint NOT NULL);
                CREATE TABLE raw_hot_member (hot_id int NOT NULL REFERENCES raw_hot, n bigint NOT NULL);
                INSERT INTO raw_hot VALUES (1, 0)" >/dev/null
            printf 'UPDATE raw_hot SET v = v + 1 WHERE id = 1;\n' >"$work/hot.sql"
            printf 'BEGIN;\nINSERT INTO raw_hot_member VALUES (1, :client_id);\nUPDATE raw_hot SET v = v + 1 WHERE id = 1;\nCOMMIT;\n' \
                >"$work/hot_member.sql"
            pgbench_pair "$url" "$work/hot.sql" "$work/hot_member.sql"
            hot_update=${pair[0]} hot_member=${pair[1]}
            ;;
    esac
    if grep -qE '"level":"ERROR"|panicked' "$work/server.log"; then
        echo "load: the server logged errors:" >&2; grep -E '"level":"ERROR"|panicked' "$work/server.log" | head >&2
        exit 1
    fi
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    trap - EXIT
    [ "$store" = postgres ] && psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$work"

    echo
    echo "store: $store — wrk -t2 -c$conns -d$duration, 5,100 users, rate limit off, database_max_connections ${SCIMD_DATABASE_MAX_CONNECTIONS:-10}; scimd resident memory after the run: ${rss} MB"
    echo "raw $store: single-row insert ${raw_insert%.*}/s, primary-key lookup ${raw_lookup%.*}/s${raw_cpu:-}"
    [ -n "$same_create" ] &&
        echo "raw $store, scimd's own statements: create ${same_create%.*}/s, GET by id ${same_lookup%.*}/s${same_cpu}"
    [ -n "$hot_update" ] &&
        echo "raw $store, one row changed by every connection: UPDATE alone ${hot_update%.*}/s; a row referencing it, the UPDATE and COMMIT ${hot_member%.*}/s"
    printf '%-46s %9s %8s %8s %7s %-9s %s\n' workload "req/s" p50 p99 non-2xx "scimd/raw" "scimd/same-statements"
    row() {
        local label=$1 key=$2 raw=${3:-} same=${4:-}
        [ -n "${r[$key]:-}" ] || return 0
        read -r rate p50 p99 bad <<<"${r[$key]}"
        local ratio="" same_ratio=""
        [ -n "$raw" ] && ratio=$(python3 -c "print(f'{$rate/$raw:.2f}')")
        [ -n "$same" ] && same_ratio=$(python3 -c "print(f'{$rate/$same:.2f}')")
        printf '%-46s %9.0f %8s %8s %7s %-9s %s\n' "$label" "$rate" "$p50" "$p99" "$bad" "$ratio" "$same_ratio"
    }
    row "POST /Users (a new user each)" post "$raw_insert" "$same_create"
    row "GET /Users?filter=userName eq" eq "$raw_lookup"
    row "GET /Users/{id}" id "$raw_lookup" "$same_lookup"
    row "GET /Users?startIndex=1&count=100" page
    row "PATCH ±1 member, 10-member group" small "" "$hot_member"
    row "PATCH ±1 member, 5,000-member group" big "" "$hot_member"
    row "PATCH +1 member, spread over 200 groups" spread
    row "GET /Groups?count=100, no members" groups
    row "HTTP floor: GET /healthz (no database)" floor "$raw_lookup"
}

for store in $stores; do
    one_store "$store"
done
