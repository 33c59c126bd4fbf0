#!/usr/bin/env bash
# Growth: the same requests against an account of 1,000 users and one of 1,000,000 (beside
# 1,000 small accounts of 100 users) on one Postgres database, median of 15 each, and the plans
# of the list statements. See docs/benchmarks.md, "Growth".
#   bash benches/growth.sh                 # fill scimd_growth (about 3 minutes), then measure
#   bash benches/growth.sh --measure-only  # measure again on the filled database
#   SCIMD_BIN=/path/to/scimd bash benches/growth.sh --measure-only   # another build
# The accounts and the first user of each are made through the API; the rest are copies of
# that user's rows (users, user_values) made in SQL, with their own ids, names and emails —
# the rows scimd itself writes, so its indexes and statistics are what production has.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_admin=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db=scimd_growth
url="${pg_admin%/*}/$db"
big=${BIG:-1000000}
[ -n "${SCIMD_BIN:-}" ] || cargo build --release --quiet
bin=${SCIMD_BIN:-$PWD/target/release/scimd}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pid=
cleanup() { [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }; rm -rf "$work"; }
trap cleanup EXIT
export DATABASE_URL=$url SCIMD_LOG_LEVEL=warn SCIMD_RATE_LIMIT_PER_SECOND=0

if [ "${1:-}" != --measure-only ]; then
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
    "$bin" migrate >/dev/null
    started=$(date +%s)
    # Two accounts with a token each, and one template user in each (as Okta creates one).
    for name in big small; do
        "$bin" account create --name "growth-$name" --json >/dev/null
    done
    psql "$url" -qv ON_ERROR_STOP=1 >/dev/null <<SQL
-- 1,000 accounts of 100 users beside the two measured ones.
INSERT INTO accounts (id, name) SELECT gen_random_uuid(), 'filler ' || a FROM generate_series(1, 1000) a;
SQL
fi
"$bin" serve --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
python3 - "$port" "$url" "$big" "${1:-}" "$bin" <<'PY'
import json, subprocess, sys, time, statistics, http.client, urllib.parse
port, url, big, mode, binary = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
def psql(sql):
    out = subprocess.run(["psql", url, "-Atqv", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"growth: psql failed: {out.stderr.strip()}")
    return out.stdout.strip()
accounts = {}
for name in ("big", "small"):
    aid = psql(f"SELECT id FROM accounts WHERE name = 'growth-{name}'")
    tok = json.loads(subprocess.run([binary, "token", "create", "--account", aid, "--idp", "okta", "--json"],
                                    check=True, capture_output=True, text=True).stdout)
    accounts[name] = (aid, tok["token"])
conn = http.client.HTTPConnection("127.0.0.1", int(port))
def call(method, account, path, body=None):
    aid, token = accounts[account]
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/scim+json"}
    global conn
    t = time.perf_counter()
    try:
        conn.request(method, f"/scim/account/{aid}{path}", body=json.dumps(body) if body else None, headers=headers)
        r = conn.getresponse(); data = r.read()
    except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
        # The server closes a keep-alive connection left idle (header_read_timeout_seconds),
        # as it was during the fill: once more on a new one.
        conn = http.client.HTTPConnection("127.0.0.1", int(port))
        t = time.perf_counter()
        conn.request(method, f"/scim/account/{aid}{path}", body=json.dumps(body) if body else None, headers=headers)
        r = conn.getresponse(); data = r.read()
    ms = (time.perf_counter() - t) * 1000
    if r.status >= 300:
        raise SystemExit(f"{method} {path}: {r.status} {data[:300]}")
    return ms, (json.loads(data) if data else None)
if mode != "--measure-only":
    t0 = time.time()
    for name, n in (("big", big), ("small", 1000)):
        aid = accounts[name][0]
        call("POST", name, "/Users", {"userName": "template@growth.example", "displayName": "Template User",
             "name": {"givenName": "Template", "familyName": "User"}, "externalId": "ext-template",
             "emails": [{"value": "template@growth.example", "type": "work", "primary": True}], "active": True})
        # Copies of the template's rows, names and emails made unique; every 10th user inactive.
        psql(f"""
INSERT INTO users (account_id, id, user_name, user_name_ci, external_id, display_name, display_name_ci, active, doc,
                   source, idp_managed, created_at, last_modified, version, primary_email_ci)
SELECT t.account_id, gen_random_uuid(), 'g' || i || '@growth.example', 'g' || i || '@growth.example', 'ext-' || i,
       'Growth User ' || i, 'growth user ' || i, i % 10 <> 0,
       jsonb_set(jsonb_set(jsonb_set(jsonb_set(t.doc, '{{userName}}', to_jsonb('g' || i || '@growth.example')),
           '{{displayName}}', to_jsonb('Growth User ' || i)), '{{externalId}}', to_jsonb('ext-' || i)),
           '{{emails,0,value}}', to_jsonb('g' || i || '@growth.example')) || jsonb_build_object('active', i % 10 <> 0),
       t.source, t.idp_managed, t.created_at, t.last_modified, 1, 'g' || i || '@growth.example'
FROM users t, generate_series(1, {n - 1}) i WHERE t.account_id = '{aid}' AND t.user_name = 'template@growth.example';
INSERT INTO user_values (account_id, user_id, attr, ord, value, value_ci, type_ci, is_primary)
SELECT u.account_id, u.id, v.attr, v.ord, u.user_name, u.user_name_ci, v.type_ci, v.is_primary
FROM users u JOIN user_values v ON v.account_id = u.account_id AND v.attr = 'emails'
  AND v.user_id = (SELECT id FROM users WHERE account_id = '{aid}' AND user_name = 'template@growth.example')
WHERE u.account_id = '{aid}' AND u.user_name <> 'template@growth.example';""")
    psql("""
INSERT INTO users (account_id, id, user_name, user_name_ci, active, doc, source, idp_managed, created_at, last_modified)
SELECT a.id, gen_random_uuid(), 'f' || i || '@filler.example', 'f' || i || '@filler.example', true,
       jsonb_build_object('userName', 'f' || i || '@filler.example', 'active', true), 'okta', true, now(), now()
FROM accounts a, generate_series(1, 100) i WHERE a.name LIKE 'filler %'""")
    # 100,000 groups in the big account, each of 10 of its users.
    aid = accounts["big"][0]
    psql(f"""
INSERT INTO groups (account_id, id, display_name, display_name_ci, doc, source, idp_managed, identifier,
                    created_at, last_modified)
SELECT '{aid}', gen_random_uuid(), 'Group ' || i, 'group ' || i, jsonb_build_object('displayName', 'Group ' || i),
       'okta', true, 'group_' || i, now(), now() FROM generate_series(1, 100000) i;
INSERT INTO group_members (account_id, group_id, member_id, origin)
SELECT g.account_id, g.id, u.id, 'idp' FROM
  (SELECT id, account_id, row_number() OVER (ORDER BY id) AS n FROM groups WHERE account_id = '{aid}') g
  JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM users WHERE account_id = '{aid}') u
  ON g.n = (u.n - 1) / 10 + 1;""")
    subprocess.run(["psql", url, "-qc", "VACUUM ANALYZE"], check=True)
    print(f"filled in {time.time() - t0:.0f} s:", psql(
        "SELECT string_agg(relname || ' ' || n_live_tup, ', ') FROM pg_stat_user_tables WHERE relname IN ('users','user_values','groups','group_members')"))

def median_of(account, path, n=15):
    call("GET", account, path)  # warm
    times = sorted(call("GET", account, path)[0] for _ in range(n))
    return statistics.median(times), times[int(len(times) * 0.95) - 1]
def some_user(account, k):
    aid = accounts[account][0]
    return psql(f"SELECT id, user_name FROM users WHERE account_id = '{aid}' AND user_name = 'g{k}@growth.example'").split("|")
rows = []
for label, paths in [
    ("GET /Users/{id}", lambda a, n: f"/Users/{some_user(a, n // 2)[0]}"),
    ("filter=userName eq", lambda a, n: "/Users?filter=" + urllib.parse.quote(f'userName eq "g{n // 3}@growth.example"')),
    ("filter=emails.value eq", lambda a, n: "/Users?filter=" + urllib.parse.quote(f'emails.value eq "g{n // 4}@growth.example"')),
    ("filter=userName sw (11 rows)", lambda a, n: "/Users?filter=" + urllib.parse.quote(f'userName sw "g{n // 10 + 7}"') + "&count=100"),
    ("startIndex=1&count=100", lambda a, n: "/Users?startIndex=1&count=100"),
    ("startIndex=0.9n&count=100 (by position)", lambda a, n: f"/Users?startIndex={n * 9 // 10 + 1}&count=100"),
    ("cursor, first page, count=100", lambda a, n: "/Users?cursor&count=100"),
    ("filter=active eq false&count=10", lambda a, n: "/Users?filter=" + urllib.parse.quote("active eq false") + "&count=10"),
    ("GET /Groups?count=100 (no members)", lambda a, n: "/Groups?count=100&excludedAttributes=members"),
]:
    small = median_of("small", paths("small", 1000))
    large = median_of("big", paths("big", big))
    rows.append((label, small, large))
# Sequential paging, as Okta's import: 10 pages of 100 (the small account from its start, the
# big one from 0.8n + 1); the first is by position, the next ones resume after the page before.
def walk(account, start):
    return [call("GET", account, f"/Users?startIndex={start + p * 100}&count=100")[0] for p in range(10)]
ws, wb = walk("small", 1), walk("big", big * 8 // 10 + 1)
rows.append(("sequential pages 2-10 (median; max)", (statistics.median(ws[1:]), max(ws[1:])), (statistics.median(wb[1:]), max(wb[1:]))))
rows.append(("  their first page (by position)", (ws[0], ws[0]), (wb[0], wb[0])))
# A cursor walk: the 10th page.
def cursor_walk(account):
    _, body = call("GET", account, "/Users?cursor&count=100")
    t = 0
    for _ in range(9):
        t, body = call("GET", account, "/Users?count=100&cursor=" + urllib.parse.quote(body["nextCursor"]))
    return t
c10s, c10b = cursor_walk("small"), cursor_walk("big")
rows.append(("cursor, 10th page", (c10s, c10s), (c10b, c10b)))
print(f"\n{'workload':46} {'1,000 users':>16} {f'{big:,} users':>18} {'ratio':>6}")
for label, (s50, s95), (b50, b95) in rows:
    print(f"{label:46} {s50:8.2f} ms ({s95:5.1f}) {b50:9.2f} ms ({b95:6.1f}) {b50 / s50:6.2f}")
print("(median of 15 sequential requests on one keep-alive connection, p95 in brackets)")
aid = accounts["big"][0]
print("\nplans in the account of", f"{big:,}", "users:")
for label, sql in [
    ("total of an unfiltered list (kept count)", f"SELECT CAST(COALESCE(SUM(users), 0) AS BIGINT) FROM resource_counts WHERE account_id = '{aid}'"),
    ("what it replaces: count(*)", f"SELECT count(*) FROM users t WHERE t.account_id = '{aid}'"),
    ("page at 0.9n by position (ids only, then the page)", f"SELECT t.doc FROM users t WHERE t.account_id = '{aid}' AND t.id = ANY(ARRAY(SELECT t.id FROM users t WHERE t.account_id = '{aid}' ORDER BY t.id LIMIT 100 OFFSET {big * 9 // 10})) ORDER BY t.id"),
    ("what it replaces: OFFSET over whole rows", f"SELECT t.doc FROM users t WHERE t.account_id = '{aid}' ORDER BY t.id LIMIT 100 OFFSET {big * 9 // 10}"),
]:
    plan = psql(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) {sql}")
    print(f"\n-- {label}\n{plan}")
PY
grep -E '"level":"ERROR"|panicked' "$work/server.log" && { echo "growth: the server logged errors" >&2; exit 1; }
exit 0
