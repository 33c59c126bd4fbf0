#!/usr/bin/env bash
# The web console's pages on a large account (docs/benchmarks.md, "The console's pages"): one
# account of 100,000 users, 10,000 groups of 10 members and 1,000,000 audit events spread over
# the last 30 days, on Postgres. Each page is fetched 15 times through a signed-in session;
# the median and the slowest are printed, as client time on loopback (an upper bound of the
# server's time; the server's own figure is in its access log as latency_ms).
#   bash benches/console.sh                  # fill scimd_console (about a minute), then measure
#   bash benches/console.sh --measure-only   # measure again on the filled database
#   SCIMD_BIN=/path/to/scimd bash benches/console.sh --measure-only
# The account, its tokens and one template user and group are made through the CLI and the
# SCIM API; the rest are copies of those rows made in SQL with their own ids and names — the
# rows scimd itself writes, so its indexes and statistics are what production has.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_admin=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db=scimd_console
url="${pg_admin%/*}/$db"
users=${BENCH_USERS:-100000}
groups=${BENCH_GROUPS:-10000}
events=${BENCH_EVENTS:-1000000}
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
    "$bin" account create --name console-bench --json >/dev/null
fi
aid=$(psql "$url" -Atc "SELECT id FROM accounts WHERE name = 'console-bench'")
scim=$("$bin" -q token create --account "$aid" --idp okta --description bench)
admin=$("$bin" -q token create --account "$aid" --kind admin --description bench)
"$bin" serve --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done

if [ "${1:-}" != --measure-only ]; then
    started=$(date +%s)
    base="http://127.0.0.1:$port/scim/account/$aid"
    curl -fs -o /dev/null -X POST "$base/Users" -H "Authorization: Bearer $scim" -H 'Content-Type: application/scim+json' \
        -d '{"userName":"template@console.example","displayName":"Template User","name":{"givenName":"Template","familyName":"User"},"emails":[{"value":"template@console.example","type":"work","primary":true}],"active":true}'
    tid=$(psql "$url" -Atc "SELECT id FROM users WHERE account_id = '$aid' AND user_name = 'template@console.example'")
    curl -fs -o /dev/null -X POST "$base/Groups" -H "Authorization: Bearer $scim" -H 'Content-Type: application/scim+json' \
        -d "{\"displayName\":\"Template Group\",\"members\":[{\"value\":\"$tid\"}]}"
    psql "$url" -qv ON_ERROR_STOP=1 >/dev/null <<SQL
-- Users: copies of the template, every 5th native (source manual), every 10th inactive.
INSERT INTO users (account_id, id, user_name, user_name_ci, external_id, display_name, display_name_ci, active, doc,
                   source, idp_managed, created_at, last_modified, version, primary_email_ci)
SELECT t.account_id, gen_random_uuid(), 'u' || i || '@console.example', 'u' || i || '@console.example', 'ext-' || i,
       'Console User ' || i, 'console user ' || i, i % 10 <> 0,
       jsonb_set(jsonb_set(jsonb_set(t.doc, '{userName}', to_jsonb('u' || i || '@console.example')),
           '{displayName}', to_jsonb('Console User ' || i)),
           '{emails,0,value}', to_jsonb('u' || i || '@console.example')) || jsonb_build_object('active', i % 10 <> 0),
       CASE WHEN i % 5 = 0 THEN 'manual' ELSE t.source END, i % 5 <> 0, t.created_at, t.last_modified, 1,
       'u' || i || '@console.example'
FROM users t, generate_series(1, $users - 1) i WHERE t.account_id = '$aid' AND t.id = '$tid';
INSERT INTO user_values (account_id, user_id, attr, ord, value, value_ci, type_ci, is_primary)
SELECT u.account_id, u.id, v.attr, v.ord, u.user_name, u.user_name_ci, v.type_ci, v.is_primary
FROM users u JOIN user_values v ON v.account_id = u.account_id AND v.attr = 'emails' AND v.user_id = '$tid'
WHERE u.account_id = '$aid' AND u.id <> '$tid';
-- Groups of 10 members each, Okta's.
INSERT INTO groups (account_id, id, display_name, display_name_ci, doc, source, idp_managed, identifier,
                    created_at, last_modified)
SELECT '$aid', gen_random_uuid(), 'Team ' || i, 'team ' || i, jsonb_build_object('displayName', 'Team ' || i),
       'okta', true, 'Team_' || i, now(), now() FROM generate_series(1, $groups - 1) i;
INSERT INTO group_members (account_id, group_id, member_id, origin)
SELECT g.account_id, g.id, u.id, 'idp' FROM
  (SELECT id, account_id, row_number() OVER (ORDER BY id) AS n FROM groups WHERE account_id = '$aid' AND identifier LIKE 'Team\_%') g
  JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM users WHERE account_id = '$aid') u
  ON g.n = (u.n - 1) / 10 + 1;
-- Audit events over the last 30 days, newest first; ids are UUIDv7 of their time, as scimd
-- makes them. Nine in ten by Okta through SCIM, one in ten by an admin.
INSERT INTO audit_events (account_id, id, at, actor_kind, actor_token_id, actor_idp, action, resource_type,
                          resource_id, after)
SELECT '$aid',
       (lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0') || '7' || substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid,
       t, CASE WHEN i % 10 = 0 THEN 'admin' ELSE 'scim' END, NULL,
       CASE WHEN i % 10 = 0 THEN NULL ELSE 'okta' END, 'user.patch', 'User', '$tid', '{"active": true}'::jsonb
FROM (SELECT i, now() - i * (interval '30 days' / $events) AS t, md5(i::text) AS h
      FROM generate_series(1, $events) i) e;
-- Their counts per day and source, as scimd writes them with each event.
INSERT INTO audit_activity AS a (account_id, day, source, shard, n)
SELECT account_id, (at AT TIME ZONE 'UTC')::date,
       CASE WHEN actor_kind = 'scim' THEN COALESCE(actor_idp, 'scim') ELSE 'manual' END, 0, count(*)
FROM audit_events WHERE account_id = '$aid' AND actor_token_id IS NULL AND action = 'user.patch' GROUP BY 1, 2, 3
ON CONFLICT (account_id, day, source, shard) DO UPDATE SET n = a.n + EXCLUDED.n;
VACUUM ANALYZE;
SQL
    echo "filled in $(( $(date +%s) - started )) s: $(psql "$url" -Atc "SELECT string_agg(relname || ' ' || n_live_tup, ', ') FROM pg_stat_user_tables WHERE relname IN ('users','groups','group_members','audit_events')")"
fi

python3 - "$port" "$aid" "$admin" "$url" <<'PY'
import http.client, statistics, subprocess, sys, time, urllib.parse
port, aid, admin, url = sys.argv[1:5]
conn = http.client.HTTPConnection("127.0.0.1", int(port))
res = None
conn.request("POST", "/ui/sign-in", body=urllib.parse.urlencode({"token": admin}),
             headers={"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"})
r = conn.getresponse(); r.read()
cookie = r.getheader("Set-Cookie").split(";")[0]
def psql(sql):
    return subprocess.run(["psql", url, "-Atc", sql], check=True, capture_output=True, text=True).stdout.strip()
user = psql(f"SELECT id FROM users WHERE account_id = '{aid}' AND user_name = 'u50000@console.example'")
group = psql(f"SELECT id FROM groups WHERE account_id = '{aid}' AND identifier = 'Team_5000'")
def get(path):
    t = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie})
    r = conn.getresponse(); body = r.read()
    ms = (time.perf_counter() - t) * 1000
    if r.status != 200:
        raise SystemExit(f"GET {path}: {r.status} {body[:300]}")
    return ms, body.decode()
a = f"/ui/a/{aid}"
# The second page of users: the first page's "Next page" link.
first = get(a + "/users")[1]
nxt = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
pages = [
    ("Overview", "/"),
    ("Users, first page", "/users"),
    ("Users, next page (cursor)", nxt[len(a):]),
    ("Users, userName starts with u5000", "/users?q=u5000&field=userName"),
    ("Users, email starts with u77", "/users?q=u77&field=email"),
    ("Users, native only", "/users?source=manual"),
    ("Users, IdP-managed, name starts with console user 9", "/users?q=Console%20User%209&field=name&managed=yes"),
    ("User detail (groups, audit trail)", f"/users/{user}"),
    ("Groups, first page", "/groups"),
    ("Groups, name starts with Team 77", "/groups?q=Team%2077"),
    ("Group detail (members, bindings, trail)", f"/groups/{group}"),
    ("Tokens", "/tokens"),
    ("Set up Okta (latest SCIM requests)", "/idp/okta"),
    ("Audit log, newest", "/audit"),
    ("Audit log, admins only", "/audit?actor=admin"),
    ("Audit log, one day 20 days ago", "/audit?from=" + time.strftime("%Y-%m-%d", time.gmtime(time.time() - 20 * 86400))
        + "&until=" + time.strftime("%Y-%m-%d", time.gmtime(time.time() - 20 * 86400))),
    ("Audit log, one user's events", f"/audit?resource_type=User&resource_id={psql(f'SELECT id FROM users WHERE account_id = {chr(39)}{aid}{chr(39)} AND user_name = {chr(39)}template@console.example{chr(39)}')}"),
    ("Migration", "/migration"),
    ("Schemas", "/schemas"),
    ("Webhooks", "/webhooks"),
    ("Change feed, first page", "/events"),
    ("Settings", "/settings"),
]
print(f"{'page':58} {'median ms':>10} {'max ms':>8}")
worst = 0.0
for label, path in pages:
    get(a + path)  # warm
    times = sorted(get(a + path)[0] for _ in range(15))
    med = statistics.median(times)
    worst = max(worst, med)
    print(f"{label:58} {med:10.1f} {times[-1]:8.1f}")
print(f"slowest median: {worst:.1f} ms (bound: 50 ms)")
PY
