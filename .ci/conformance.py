"""Runs two independent SCIM conformance checkers against a live scimd and judges the results.

Called by .ci/conformance, which starts the server and installs the pinned checkers:

- scim2-tester (the engine of `scim2 test` in scim2-cli), run in-process through scim2-cli's
  own session so discovery is exactly what `scim2 test` does, but with each result's data at
  hand to judge exceptions precisely;
- `scim-sanity probe` (strict mode), run as a command with --json-output.

Every result that is not a pass fails the run unless one exception below matches it exactly:
same checker, same check name, same resource type, and a predicate on the checker's own data.
Each exception is documented in docs/conformance.md under its id (the run checks that too).
Finally the server's JSON access log must show no status >= 500 and no panic.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


@dataclass
class Result:
    checker: str
    name: str
    status: str  # "pass", "skip" or a failing status ("fail", "error", "warn", "deviation", ...)
    resource: str
    reason: str
    data: Any


@dataclass
class Exception_:
    id: str
    checker: str
    name: str
    resource: str
    statuses: set[str]
    applies: Callable[[Result, "Context"], bool]
    why: str


@dataclass
class Context:
    base_url: str
    token: str

    def status_of(self, method: str, path: str, body: bytes | None = None) -> int:
        req = urllib.request.Request(
            self.base_url + path,
            method=method,
            data=body,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/scim+json",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return res.status
        except urllib.error.HTTPError as err:
            return err.code


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value.model_dump() if hasattr(value, "model_dump") else value


def _members_equal_but_display(result: Result, _: Context) -> bool:
    """The members sent and the members read back are the same (value, $ref, type) and differ
    only in `display`, which scimd derives from the member itself."""
    data = result.data or {}
    expected = _dump(data.get("expected"))
    actual = _dump(data.get("actual", data.get("modify_actual")))
    if not isinstance(expected, list) or not isinstance(actual, list) or not expected:
        return False
    if len(expected) != len(actual):
        return False
    strip = lambda m: {k: v for k, v in m.items() if k != "display"}  # noqa: E731
    key = lambda m: json.dumps(strip(m), sort_keys=True, default=str)  # noqa: E731
    return sorted(map(key, expected)) == sorted(map(key, actual))


def _message_is(expected: str) -> Callable[[Result, Context], bool]:
    return lambda result, _: result.reason == expected


EXCEPTIONS = [
    Exception_(
        "X2",
        "scim2-tester",
        "check_add_attribute",
        "Group",
        {"error"},
        _members_equal_but_display,
        "members.display is readOnly, derived from the member (the tester compares it anyway)",
    ),
    Exception_(
        "X2",
        "scim2-tester",
        "check_replace_attribute",
        "Group",
        {"error"},
        _members_equal_but_display,
        "members.display is readOnly, derived from the member (the tester compares it anyway)",
    ),
    Exception_(
        "X3",
        "scim-sanity",
        "PATCH /Groups/{id}",
        "Group",
        {"fail"},
        _message_is("Expected HTTP 200, got 204 (RFC 7644 §3.3); Response body is empty"),
        "group PATCH answers 204 No Content (RFC 7644 §3.5.2 allows it)",
    ),
    Exception_(
        "X3",
        "scim-sanity",
        "PATCH /Groups/{id} remove members",
        "Group",
        {"fail"},
        _message_is("Expected 200, got 204"),
        "group PATCH answers 204 No Content (RFC 7644 §3.5.2 allows it)",
    ),
    Exception_(
        "X4",
        "scim-sanity",
        "PATCH /Groups/{id} add member",
        "Group",
        {"fail"},
        _message_is("Expected 200, got 400"),
        "a member id that names no user of the account is refused (400 invalidValue)",
    ),
]
def _r2_refusal(result: Result, _: Context) -> bool:
    """docs/rules.md, R2: userName and the primary email do not change over SCIM once provisioned,
    unless the account allows it; the refusal names the setting that allows it."""
    return (
        "cannot change once the user is provisioned" in result.reason
        and "update_emails_via_scim" in result.reason
        and ("userName" in result.reason or "primary email" in result.reason)
    )


for _name in ("object_replacement", "check_replace_attribute", "check_remove_attribute"):
    EXCEPTIONS.append(
        Exception_(
            "X6",
            "scim2-tester",
            _name,
            "User",
            {"error"},
            _r2_refusal,
            "R2: userName and primary email are immutable over SCIM unless update_emails_via_scim is on",
        )
    )
for _name in ("Agent CRUD Lifecycle", "AgenticApplication CRUD Lifecycle", "Agent Rapid Lifecycle"):
    EXCEPTIONS.append(
        Exception_(
            "X5",
            "scim-sanity",
            _name,
            "*",
            {"skip"},
            lambda result, _: "not supported" in result.reason,
            "the draft agent extension (draft-abbey-scim-agent-extension) is not implemented",
        )
    )


def run_scim2_tester(base_url: str, token: str) -> list[Result]:
    from scim2_cli.session import Session
    from scim2_tester import Status, check_server

    session = Session(
        url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        verify=True,
        schemas=None,
        resource_types=None,
        service_provider_config=None,
    )
    client = session.client
    # What `scim2 test` does by default: unexpected status codes and content types fail.
    client.check_response_status_codes = True
    client.check_response_content_type = True
    passing = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
    results = []
    for r in check_server(client):
        if r.status in passing:
            status = "pass"
        elif r.status == Status.SKIPPED:
            status = "skip"
        else:
            status = r.status.name.lower()
        results.append(
            Result(
                "scim2-tester",
                r.title,
                status,
                r.resource_type or "*",
                r.reason or "",
                r.data,
            )
        )
    return results


def run_scim_sanity(executable: str, base_url: str, token: str) -> list[Result]:
    proc = subprocess.run(
        [executable, "probe", base_url, "--token", token, "--i-accept-side-effects",
         "--json-output", "--strict", "--timeout", "30"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit("conformance: scim-sanity did not print a JSON report")
    results = []
    for r in report["results"]:
        phase = r.get("phase", "")
        resource = "Group" if "Group" in phase else "User" if "User" in phase else "*"
        results.append(
            Result("scim-sanity", r["name"], r["status"], resource, r.get("message", ""), r)
        )
    return results


def judge(results: list[Result], ctx: Context) -> tuple[list[Result], dict[str, int]]:
    unexpected = []
    used: dict[str, int] = {e.id: 0 for e in EXCEPTIONS}
    for result in results:
        if result.status == "pass":
            continue
        match = next(
            (
                e
                for e in EXCEPTIONS
                if e.checker == result.checker
                and e.name == result.name
                and e.resource in ("*", result.resource)
                and result.status in e.statuses
                and e.applies(result, ctx)
            ),
            None,
        )
        if match is None:
            unexpected.append(result)
        else:
            used[match.id] += 1
            print(f"  excepted [{match.id}] {result.checker}: {result.name} ({result.resource}): {match.why}")
    return unexpected, used


ME_PATH = re.compile(r"/scim/account/[^/]+/+Me(/.*)?")


def scan_server_log(path: Path) -> tuple[int, list[str]]:
    """Counts access-log lines and returns those with a 5xx status, and any panic."""
    requests, bad = 0, []
    for line in path.read_text(errors="replace").splitlines():
        if "panicked" in line:
            bad.append(line)
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        status = entry.get("fields", {}).get("status")
        if isinstance(status, int):
            requests += 1
            path = entry.get("span", {}).get("path", "")
            # RFC 7644 §3.11 asks for 501 from a provider without /Me: the one deliberate 5xx.
            if status == 501 and ME_PATH.fullmatch(path):
                continue
            if status >= 500:
                bad.append(line)
    return requests, bad


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--origin", required=True)
    parser.add_argument("--accounts", required=True, help="file: account-id token, one per checker")
    parser.add_argument("--server-log", required=True, type=Path)
    parser.add_argument("--scim-sanity", required=True)
    parser.add_argument("--docs", required=True, type=Path)
    args = parser.parse_args()

    (acc1, tok1), (acc2, tok2) = [
        line.split() for line in Path(args.accounts).read_text().splitlines() if line.strip()
    ]
    base1 = f"{args.origin}/scim/account/{acc1}"
    base2 = f"{args.origin}/scim/account/{acc2}"

    failed = False
    # Each exception must have its own row in the docs' exceptions table naming its check.
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r"^\| (X\d+) \|.*$", args.docs.read_text(), re.MULTILINE)
    }
    for e in EXCEPTIONS:
        if f"`{e.name}`" not in rows.get(e.id, ""):
            print(f"conformance: exception {e.id} ({e.name}) has no row naming it in {args.docs}")
            failed = True

    all_results = []
    for label, results, ctx in (
        ("scim2-tester", lambda: run_scim2_tester(base1, tok1), Context(base1, tok1)),
        ("scim-sanity", lambda: run_scim_sanity(args.scim_sanity, base2, tok2), Context(base2, tok2)),
    ):
        print(f"conformance: {label}")
        got = results()
        all_results += got
        passed = sum(r.status == "pass" for r in got)
        unexpected, used = judge(got, ctx)
        for r in unexpected:
            print(f"  UNEXPECTED {r.status.upper()} {r.checker}: {r.name} ({r.resource}): {r.reason}")
        excepted = sum(used.values())
        print(f"  {label}: {len(got)} checks, {passed} pass, {excepted} documented exceptions, "
              f"{len(unexpected)} unexpected")
        if not got or passed == 0:
            print(f"  {label} ran no check")
            failed = True
        failed |= bool(unexpected)

    unused = {e.id for e in EXCEPTIONS} - {
        e.id
        for r in all_results
        for e in EXCEPTIONS
        if e.checker == r.checker and e.name == r.name and r.status != "pass"
    }
    for eid in sorted(unused):
        print(f"conformance: note: exception {eid} did not occur; it may be obsolete")

    requests, bad = scan_server_log(args.server_log)
    print(f"conformance: server answered {requests} requests; {len(bad)} with 5xx or a panic")
    for line in bad[:20]:
        print(f"  {line}")
    if requests == 0:
        print("conformance: the access log shows no request")
        failed = True
    failed |= bool(bad)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
