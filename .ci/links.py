#!/usr/bin/env python3
"""Fails on a reference to a file of the repository that does not exist.

Checked, in every tracked text file (Markdown, Rust, TOML, SQL, Python, shell, YAML):
  * Markdown links `[text](target)` whose target is not a URL: the file (relative to the
    linking file, or to the repository root as GitHub resolves them) must exist, and a
    `#fragment` into a Markdown file must name one of its headings (GitHub's slugs);
  * repository paths written in prose or comments (`docs/rules.md`, `src/store/rekey.rs`,
    `migrations/sqlite/0005_comparison_keys.sql`, …): they must exist;
  * documents that are not part of the repository (`SPEC.md` and its sections, `SPEC R4`,
    `SPEC §2`; `IDP-BEHAVIOURS.md`; `ARCHITECTURE.md` outside docs/) must not be cited at all.
Migrations are not read: sqlx's checksums freeze their text once applied.

Usage: .ci/links.py [--selftest]
"""

import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXT = (".md", ".rs", ".toml", ".sql", ".py", ".sh", ".yaml", ".yml", ".service", ".txt", "")
TOP = ("docs", "deploy", "config", "migrations", ".ci", "tests", "src", "benches", "fuzz", "scripts")
PATH = re.compile(
    r"(?<![\w./-])((?:" + "|".join(re.escape(t) for t in TOP) + r")/[\w./-]*\w\.(?:md|rs|toml|sql|py|sh|yaml|yml|service|json|dict))\b"
)
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
FOREIGN = re.compile(
    r"\b(SPEC\.md|IDP-BEHAVIOURS\.md)\b|(?<![\w/])ARCHITECTURE\.md\b|\bSPEC (?:R\d|§)|\bIDP-BEHAVIOURS\b"
)


def tracked(root):
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True)
    return [p for p in out.stdout.decode().split("\0") if p]


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(path):
    out = set()
    fence = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                fence = not fence
            if not fence and line.startswith("#"):
                out.add(slug(line.lstrip("#")))
    return out


def check(root):
    files = tracked(root)
    known = set(files)
    dirs = {os.path.dirname(p) for p in files}
    for p in list(dirs):
        while p:
            p = os.path.dirname(p)
            dirs.add(p)
    problems = []
    for rel in files:
        if not rel.endswith(TEXT) or os.path.basename(rel) in ("Cargo.lock",) or rel.startswith("fuzz/seeds/"):
            continue
        # An applied migration's text is fixed by its checksum: it cannot be reworded when a
        # file it names moves.
        if rel == ".ci/links.py" or rel.startswith("migrations/"):
            continue
        try:
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            where = f"{rel}:{n}"
            for m in FOREIGN.finditer(line):
                problems.append(f"{where}: cites {m.group(0)}, which is not in the repository")
            if rel.endswith(".md"):
                for m in LINK.finditer(line):
                    target = m.group(1)
                    if re.match(r"^[a-z]+:", target):
                        continue
                    path, _, frag = target.partition("#")
                    if not path:
                        resolved = rel
                    else:
                        resolved = os.path.normpath(os.path.join(os.path.dirname(rel), path))
                        if resolved not in known and resolved not in dirs:
                            alt = os.path.normpath(path.lstrip("/"))
                            if alt in known or alt in dirs:
                                resolved = alt
                            else:
                                problems.append(f"{where}: link to {target}: no such file")
                                continue
                    if frag and resolved.endswith(".md") and resolved in known:
                        if frag not in anchors(os.path.join(root, resolved)):
                            problems.append(f"{where}: link to {target}: {resolved} has no heading #{frag}")
            for m in PATH.finditer(line):
                path = m.group(1).rstrip(".")
                if path in known or path in dirs:
                    continue
                # A path made of a glob or a placeholder is not a reference to one file.
                if any(c in path for c in "*{}<>"):
                    continue
                problems.append(f"{where}: names {path}, which does not exist")
    return problems


def selftest():
    with tempfile.TemporaryDirectory() as d:
        def write(p, s):
            os.makedirs(os.path.dirname(os.path.join(d, p)) or d, exist_ok=True)
            with open(os.path.join(d, p), "w") as f:
                f.write(s)
        write("README.md", "See [rules](docs/rules.md), [ops](docs/ops.md#backup) and [x](docs/rules.md#no-such).\n")
        write("docs/rules.md", "# Rules\n## R1 Group identifier\nsee docs/gone.md and SPEC.md\n")
        write("docs/ops.md", "# Ops\n## Backup\n")
        write("src/lib.rs", "//! see docs/rules.md#r1-group-identifier and src/missing.rs\n")
        subprocess.run(["git", "init", "-q"], cwd=d, check=True)
        subprocess.run(["git", "add", "-A"], cwd=d, check=True)
        found = check(d)
        expected = [
            "README.md:1: link to docs/rules.md#no-such: docs/rules.md has no heading #no-such",
            "docs/rules.md:3: names docs/gone.md, which does not exist",
            "docs/rules.md:3: cites SPEC.md, which is not in the repository",
            "src/lib.rs:1: names src/missing.rs, which does not exist",
        ]
        if sorted(found) != sorted(expected):
            print("links: selftest: expected\n  " + "\n  ".join(expected) + "\nfound\n  " + "\n  ".join(found))
            return 1
    print("links: selftest: finds a missing file, a missing heading, a foreign document, a path in code")
    return 0


def main():
    if "--selftest" in sys.argv:
        return selftest()
    problems = check(ROOT)
    for p in problems:
        print(f"links: {p}")
    if problems:
        print(f"links: {len(problems)} reference(s) to what the repository does not hold")
        return 1
    print("links: every link and file reference resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
