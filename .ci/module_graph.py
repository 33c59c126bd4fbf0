#!/usr/bin/env python3
"""The module dependency graph of scimd, and a check that dependencies point one way.

What it reads: every `.rs` file under src/. A file belongs to the top-level module named by
its first path component (src/http/error.rs -> http, src/config.rs -> config; lib.rs and
main.rs are `bin`, the crate root). A dependency is any `crate::NAME` in code (in `use`
lines, `use crate::{a, b::c}` groups and inline paths such as `crate::store::Store`), with
line comments and string literals removed first. Files under src/service/ additionally give
the graph between service submodules through `super::NAME` and `crate::service::NAME`.

What it prints: the edges between top-level modules (with how many references each), the
edges between service/* submodules, and any cycle found.

What it checks (exit status 1 on a failure, 0 otherwise):
  * no cycle between the top-level modules http, scim, service, store, config, server, cli,
    observed, telemetry, redact (bin, cli and server are the wiring at the top: they may use
    everything and nothing may use them, so they cannot take part in a cycle);
  * nothing below the top uses cli, server or http (only bin/cli/server may, and cli and
    server may use each other's wiring only from above: bin -> cli -> server);
  * no cycle between service/* submodules.

The intended layering is described in docs/decisions.md ("dependencies point one way").
Python 3, standard library only. Run from the repository root: python3 .ci/module_graph.py
"""

import os
import re
import sys
from collections import defaultdict

SRC = "src"
TOP = ["http", "scim", "service", "store", "config", "server", "cli", "observed", "telemetry", "redact"]
WIRING = {"bin", "cli", "server"}
# Who may use the wiring and the HTTP edge.
MAY_USE = {
    "cli": {"bin"},
    "server": {"bin", "cli"},
    "http": {"bin", "cli", "server"},
}

STRING = re.compile(r'"(?:\\.|[^"\\])*"')
RAW_STRING = re.compile(r'r#*"', re.S)


def strip(text):
    """Removes comments and string literals, so prose and messages do not count."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    out = []
    for line in text.splitlines():
        line = STRING.sub('""', line)
        i = line.find("//")
        if i >= 0:
            line = line[:i]
        out.append(line)
    return "\n".join(out)


def group_names(body):
    """Top-level names of a `{a, b::c, d::{e}}` group."""
    names, depth, cur = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            names.append(cur)
            cur = ""
            continue
        if depth == 0:
            cur += ch
    names.append(cur)
    return [re.split(r"\W", n.strip())[0] for n in names if n.strip()]


def refs(text, prefix):
    """Names that follow `prefix::` (e.g. `crate`), including `prefix::{a, b}` groups."""
    found = []
    for m in re.finditer(r"\b" + prefix + r"::(\w+|\{)", text):
        if m.group(1) != "{":
            found.append(m.group(1))
            continue
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        found.extend(group_names(text[m.end() : j - 1]))
    return found


def module_of(path):
    rel = os.path.relpath(path, SRC)
    first = rel.split(os.sep)[0]
    name = first[:-3] if first.endswith(".rs") else first
    return "bin" if name in ("lib", "main") else name


def service_sub(path):
    rel = os.path.relpath(path, os.path.join(SRC, "service"))
    first = rel.split(os.sep)[0]
    return first[:-3] if first.endswith(".rs") else first


def cycles(edges, nodes):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    top = defaultdict(lambda: defaultdict(int))
    svc = defaultdict(lambda: defaultdict(int))
    svc_nodes = set()
    for root, _, files in os.walk(SRC):
        for f in sorted(files):
            if not f.endswith(".rs"):
                continue
            path = os.path.join(root, f)
            with open(path, encoding="utf-8") as fh:
                text = strip(fh.read())
            me = module_of(path)
            for name in refs(text, "crate"):
                if name in TOP and name != me:
                    top[me][name] += 1
            if me == "service" and os.path.relpath(path, SRC) != os.path.join("service", "mod.rs"):
                sub = service_sub(path)
                svc_nodes.add(sub)
                names = refs(text, "super") + refs(text, r"crate::service")
                for name in names:
                    if name != sub and os.path.exists(os.path.join(SRC, "service", name + ".rs")):
                        svc[sub][name] += 1
                        svc_nodes.add(name)

    failures = []
    print("Top-level modules (from -> to, references):")
    for a in sorted(top):
        for b in sorted(top[a]):
            print(f"  {a} -> {b} ({top[a][b]})")
            allowed = MAY_USE.get(b)
            if allowed is not None and a not in allowed:
                failures.append(f"{a} uses {b}: only {', '.join(sorted(allowed))} may")
    nodes = set(top) | {b for a in top for b in top[a]}
    for comp in cycles({a: set(top[a]) for a in top}, nodes):
        failures.append("cycle between top-level modules: " + " <-> ".join(comp))

    print("Service submodules (from -> to, references):")
    for a in sorted(svc):
        for b in sorted(svc[a]):
            print(f"  service/{a} -> service/{b} ({svc[a][b]})")
    for comp in cycles({a: set(svc[a]) for a in svc}, svc_nodes):
        failures.append("cycle between service submodules: " + " <-> ".join(comp))

    if failures:
        print("FAILED:")
        for f in failures:
            print("  " + f)
        return 1
    print("OK: no cycles; nothing below the wiring uses cli, server or http")
    return 0


if __name__ == "__main__":
    sys.exit(main())
