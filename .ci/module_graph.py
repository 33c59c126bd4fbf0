#!/usr/bin/env python3
"""Prints scimd's module graph and fails when a dependency points the wrong way.

Layers, top to bottom: cli/server (wiring) → http → service → store, scim; config sits
beside service (it names the store's option types); clock and redact are leaves anyone may use.

Reads every `crate::a::b` path (in `use` lines and in code) of each file under src/ and
attributes it to the file's module. It prints:
  * the graph between top-level modules (cli, config, http, observed, scim, server, service,
    store, telemetry), each edge with the number of references;
  * the graph between the parts of scim/ and of service/, and any cycle among them.

It fails (exit 1) when
  * a cycle joins top-level modules (cli.rs and server.rs are the wiring on top and may use
    anything; nothing may use them back);
  * a lower layer uses a higher one: scim/ uses nothing but itself; store/ uses scim/ only;
    service/ does not use http/; config uses the store's option types only, and nothing
    below it uses config but service/ and http/;
  * http/ reads the store directly (it talks to service/ only);
  * two parts of scim/ or of service/ use each other, directly or round a longer cycle.

Usage: .ci/module_graph.py [--dot]
"""

import os
import re
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
TOP = ["cli", "clock", "config", "http", "observed", "redact", "scim", "server", "service", "store", "telemetry"]
WIRING = {"cli", "server", "main", "lib"}
# What each layer may use besides itself.
ALLOWED = {
    # Leaves: anything may use them.
    "clock": set(),
    "redact": set(),
    "scim": set(),
    "store": {"scim", "redact"},
    "service": {"scim", "store", "config", "clock", "redact"},
    "http": {"scim", "service", "config", "telemetry", "observed", "clock", "redact"},
    # Settings describe what the store is opened with (its backend, pool options).
    "config": {"store", "redact"},
    "telemetry": {"config", "redact"},
    "observed": {"store"},
}
PATH = re.compile(r"\bcrate::([a-z_]+)(?:::([a-z_]+))?")
USE_GROUP = re.compile(r"use crate::\{([^;]*)\};", re.S)


def module_of(rel):
    """`src/store/db.rs` → ("store", "db"); a file in a folder, `src/scim/<part>/<file>.rs`, → ("scim", part)."""
    parts = rel[:-3].split(os.sep)[1:]
    if parts[-1] == "mod":
        parts = parts[:-1]
    top = parts[0] if parts else "lib"
    sub = parts[1] if len(parts) > 1 else None
    return top, sub


def references(text):
    """(top, sub) pairs named by `crate::` paths, including `use crate::{a::b, c}` groups."""
    text = re.sub(r"//[^\n]*", "", text)
    out = [(m.group(1), m.group(2)) for m in PATH.finditer(text)]
    for group in USE_GROUP.finditer(text):
        for item in re.split(r",(?![^{]*\})", group.group(1)):
            item = item.strip()
            m = re.match(r"([a-z_]+)(?:::([a-z_]+))?", item)
            if m:
                out.append((m.group(1), m.group(2)))
    return out


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main():
    top_edges = defaultdict(int)
    sub_edges = {"scim": defaultdict(int), "service": defaultdict(int)}
    for dirpath, _, files in os.walk(SRC):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, ROOT)
            top, sub = module_of(rel)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            # Tests may reach anywhere.
            text = text.split("#[cfg(test)]")[0]
            refs = references(text)
            # `super::x` in a part `layer/part.rs` names its sibling `layer/x`.
            if sub and rel.count(os.sep) == 2:
                refs += [(top, m.group(1)) for m in re.finditer(r"\bsuper::([a-z_]+)", re.sub(r"//[^\n]*", "", text))]
            for to_top, to_sub in refs:
                if to_top not in TOP or to_top == top:
                    if to_top == top and top in sub_edges and sub and to_sub and to_sub != sub:
                        sub_edges[top][(sub, to_sub)] += 1
                    continue
                top_edges[(top, to_top)] += 1
    problems = []
    print("module graph (edges with reference counts):")
    for (a, b), n in sorted(top_edges.items()):
        print(f"  {a} -> {b} ({n})")
        if a in WIRING:
            continue
        if b in WIRING:
            problems.append(f"{a} uses {b}, the wiring on top")
        elif a in ALLOWED and b not in ALLOWED[a]:
            problems.append(f"{a} uses {b}, which is not below it")
    graph = defaultdict(set)
    for (a, b) in top_edges:
        if a not in WIRING and b not in WIRING:
            graph[a].add(b)
    for comp in cycles(graph):
        problems.append("a cycle between " + ", ".join(comp))
    for layer, edges in sub_edges.items():
        print(f"{layer}/ parts:")
        g = defaultdict(set)
        for (a, b), n in sorted(edges.items()):
            print(f"  {a} -> {b} ({n})")
            g[a].add(b)
        for comp in cycles(g):
            problems.append(f"a cycle between {layer}/" + f", {layer}/".join(comp))
    for p in problems:
        print(f"module-graph: {p}")
    if problems:
        return 1
    print("module-graph: no cycle; every dependency points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
