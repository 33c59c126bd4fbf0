#!/usr/bin/env python3
"""Check the Dockerfile without Docker (no machine here has a Docker engine).

1. Replay the build stages. The Dockerfile itself is parsed (FROM, WORKDIR, COPY incl.
   --from=, RUN, ENV, USER, ...); each stage the final image depends on gets a clean
   temporary directory standing for its root file system, holding only what the Dockerfile
   has COPYed into it at that point (the build context filtered by .dockerignore, or files
   of an earlier stage), and its RUN commands run there unchanged but for paths: a WORKDIR
   becomes a directory under the stage's root. So a Dockerfile whose `docker build` would
   fail at a RUN fails here.
   Two caches keep reruns quick without making the copy less clean: tools that a RUN
   installs with `cargo install` go to CARGO_INSTALL_ROOT=<cache>/tools, and the WORKDIR's
   `target` is a link to <cache>/docker-target (the context never holds target/: it is in
   .dockerignore, and the check refuses a context that would hold it).
2. Check the runtime (final) stage's promises against the binary built in step 1: USER is
   not root; the HEALTHCHECK command is a scimd subcommand (`scimd help <it>` succeeds);
   ENTRYPOINT+CMD with the stage's ENV starts scimd (loopback port, temporary volume), each
   ENV key is a scimd setting that takes effect, /readyz answers and the HEALTHCHECK command
   passes against it; the VOLUME is the directory of SCIMD_DATABASE_URL.

What it cannot see (docs/operations.md): the base images' contents (the host's toolchain
stands in for the rust image's, and the version is compared), network access during the
build, the runtime stage's RUN (user creation needs root and the Debian image), layer
caching, and file ownership or permissions set with --chown/--chmod.

Usage:  .ci/dockerfile_check.py [--dockerfile PATH] [--cache DIR]
        .ci/dockerfile_check.py --selftest     # the check fails on broken Dockerfiles
Python 3.11, standard library only.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = Path(os.environ.get("SCIMD_CI_CACHE", Path.home() / ".cache" / "scimd-ci"))
SETTINGS_PREFIX = "SCIMD_"
# Settings read from the environment without the prefix (src/config.rs).
UNPREFIXED_SETTINGS = {"DATABASE_URL"}


class CheckFailed(Exception):
    pass


def log(msg: str) -> None:
    print(f"dockerfile-check: {msg}", flush=True)


# --------------------------------------------------------------------------- parsing


@dataclass
class Instruction:
    op: str
    args: str
    line: int


@dataclass
class Stage:
    index: int
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)


def parse_dockerfile(text: str) -> list[Stage]:
    """Instructions with continuation lines joined, grouped into stages."""
    instructions: list[Instruction] = []
    current, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("#") or (not line and not current):
            continue
        if not current:
            start = number
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        op, _, args = current.strip().partition(" ")
        instructions.append(Instruction(op.upper(), args.strip(), start))
        current = ""
    if current:
        raise CheckFailed("the Dockerfile ends in a continuation line")
    stages: list[Stage] = []
    for ins in instructions:
        if ins.op == "FROM":
            words = ins.args.split()
            words = [w for w in words if not w.startswith("--platform")]
            name = None
            if len(words) == 3 and words[1].upper() == "AS":
                name = words[2]
            elif len(words) != 1:
                raise CheckFailed(f"line {ins.line}: cannot read FROM {ins.args}")
            stages.append(Stage(len(stages), words[0], name))
        elif not stages:
            if ins.op != "ARG":
                raise CheckFailed(f"line {ins.line}: {ins.op} before the first FROM")
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise CheckFailed("no FROM in the Dockerfile")
    return stages


def exec_form(value: str) -> list[str] | None:
    value = value.strip()
    if not value.startswith("["):
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return None
    if not isinstance(parsed, list) or not all(isinstance(x, str) for x in parsed):
        return None
    return parsed


def parse_env(args: str) -> dict[str, str]:
    words = shlex.split(args)
    if words and "=" not in words[0]:  # legacy `ENV KEY value words`
        return {words[0]: " ".join(words[1:])}
    env = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise CheckFailed(f"ENV {args}: {word!r} is not KEY=VALUE")
        env[key] = value
    return env


def split_flags(args: str) -> tuple[dict[str, str], list[str]]:
    form = exec_form(args)
    words = form if form is not None else shlex.split(args)
    flags = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    if form is None and words and words[0].startswith("["):
        form = exec_form(" ".join(words))
        words = form if form is not None else words
    return flags, words


# ------------------------------------------------------------------ build context


def dockerignore_patterns(context: Path) -> list[tuple[bool, re.Pattern[str]]]:
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    patterns = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line[1:].strip() if negate else line
        line = os.path.normpath(line).lstrip("/")
        # Docker's matcher: `*` and `?` stay within a path element, `**` crosses them.
        regex = ""
        i = 0
        while i < len(line):
            if line.startswith("**", i):
                regex += ".*"
                i += 2
                if line.startswith("/", i):
                    regex = regex[:-2] + "(.*/)?"
                    i += 1
            elif line[i] == "*":
                regex += "[^/]*"
                i += 1
            elif line[i] == "?":
                regex += "[^/]"
                i += 1
            else:
                regex += re.escape(line[i])
                i += 1
        patterns.append((negate, re.compile(regex + r"\Z")))
    return patterns


def ignored(rel: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = rel.split("/")
    result = False
    for negate, pattern in patterns:
        for n in range(1, len(parts) + 1):
            if pattern.match("/".join(parts[:n])):
                result = not negate
                break
    return result


def context_files(context: Path) -> list[str]:
    patterns = dockerignore_patterns(context)
    files = []
    for dirpath, dirnames, filenames in os.walk(context):
        rel_dir = os.path.relpath(dirpath, context)
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        # A directory excluded with no exception below it can be skipped whole.
        if not any(neg for neg, _ in patterns):
            dirnames[:] = [d for d in dirnames if not ignored(rel_dir + d, patterns)]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            rel = rel_dir + name
            if not ignored(rel, patterns):
                files.append(rel)
    return sorted(files)


# ----------------------------------------------------------------------- replay


@dataclass
class StageState:
    root: Path
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    binaries: dict[str, Path] = field(default_factory=dict)


class Replay:
    def __init__(self, dockerfile: Path, context: Path, cache: Path, scratch: Path,
                 stop_at_first_failure: bool = True):
        self.dockerfile = dockerfile
        self.context = context
        self.cache = cache
        self.scratch = scratch
        self.stages = parse_dockerfile(dockerfile.read_text())
        self.states: dict[int, StageState] = {}
        self.context_list: list[str] | None = None
        self.stop_at_first_failure = stop_at_first_failure
        self.timings: list[tuple[str, float]] = []

    def stage_by_ref(self, ref: str, before: int) -> Stage | None:
        for stage in self.stages[:before]:
            if stage.name == ref or str(stage.index) == ref:
                return stage
        return None

    def needed(self) -> list[Stage]:
        """The final stage and the stages it depends on (FROM or COPY --from), in order."""
        need = {len(self.stages) - 1}
        for stage in reversed(self.stages):
            if stage.index not in need:
                continue
            refs = [stage.base]
            for ins in stage.instructions:
                if ins.op == "COPY":
                    flags, _ = split_flags(ins.args)
                    if "from" in flags:
                        refs.append(flags["from"])
            for ref in refs:
                dep = self.stage_by_ref(ref, stage.index)
                if dep is not None:
                    need.add(dep.index)
                elif ref is not stage.base:
                    raise CheckFailed(f"COPY --from={ref}: no earlier stage of that name "
                                      "(images are not fetched by this check)")
        return [s for s in self.stages if s.index in need]

    def host_path(self, state: StageState, container_path: str) -> Path:
        if not container_path.startswith("/"):
            container_path = os.path.join(state.workdir, container_path)
        return state.root / os.path.normpath(container_path).lstrip("/")

    def run(self, final_runs: bool = False) -> StageState:
        final = self.stages[-1]
        for stage in self.needed():
            parent = self.stage_by_ref(stage.base, stage.index)
            root = self.scratch / f"stage{stage.index}-{stage.name or 'final'}"
            if parent is not None:
                p = self.states[parent.index]
                shutil.copytree(p.root, root, symlinks=True)
                state = StageState(root, p.workdir, dict(p.env), p.user, dict(p.binaries))
                log(f"stage {stage.name or stage.index}: FROM stage {parent.name} (a copy of its files)")
            else:
                root.mkdir(parents=True)
                state = StageState(root)
                log(f"stage {stage.name or stage.index}: FROM image {stage.base} "
                    "(its contents are not seen: an empty root stands for it)")
                self.compare_toolchain(stage.base)
            self.states[stage.index] = state
            for ins in stage.instructions:
                self.apply(stage, state, ins, run_commands=stage is not final or final_runs)
        return self.states[final.index]

    def compare_toolchain(self, image: str) -> None:
        m = re.fullmatch(r"(?:docker\.io/)?(?:library/)?rust:(\d+\.\d+(?:\.\d+)?)(?:-.*)?", image)
        if not m:
            return
        out = subprocess.run(["rustc", "--version"], capture_output=True, text=True, check=True).stdout
        host = out.split()[1]
        if not (host == m.group(1) or host.startswith(m.group(1) + ".")):
            raise CheckFailed(f"the image builds with Rust {m.group(1)}, this host has {host}: "
                              "the replay would not use the image's compiler")
        log(f"  base image Rust {m.group(1)}: the host's rustc {host} stands in for it")

    def apply(self, stage: Stage, state: StageState, ins: Instruction, run_commands: bool) -> None:
        where = f"line {ins.line}"
        if ins.op == "WORKDIR":
            state.workdir = os.path.normpath(os.path.join(state.workdir, ins.args))
            self.host_path(state, state.workdir).mkdir(parents=True, exist_ok=True)
        elif ins.op == "ENV":
            state.env.update(parse_env(ins.args))
        elif ins.op == "USER":
            state.user = ins.args.strip()
        elif ins.op == "COPY":
            self.copy(stage, state, ins)
        elif ins.op == "RUN":
            if not run_commands:
                log(f"  {where}: RUN in the runtime stage is not replayed (needs root and the "
                    f"base image): {ins.args[:60]}…")
                return
            self.run_command(stage, state, ins)
        elif ins.op in ("VOLUME", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD", "LABEL", "ARG",
                        "STOPSIGNAL", "SHELL"):
            pass  # read by the runtime checks (or metadata only)
        else:
            raise CheckFailed(f"{where}: {ins.op} is not understood by this check "
                              "(extend .ci/dockerfile_check.py, or use COPY/RUN)")

    def copy(self, stage: Stage, state: StageState, ins: Instruction) -> None:
        flags, words = split_flags(ins.args)
        unknown = set(flags) - {"from", "chown", "chmod", "link"}
        if unknown:
            raise CheckFailed(f"line {ins.line}: COPY --{sorted(unknown)[0]} is not understood")
        if len(words) < 2:
            raise CheckFailed(f"line {ins.line}: COPY needs a source and a destination")
        *sources, dest = words
        dest_path = self.host_path(state, dest)
        dest_is_dir = dest.endswith("/") or len(sources) > 1 or dest_path.is_dir()
        copied = 0
        for source in sources:
            if "from" in flags:
                src_stage = self.stage_by_ref(flags["from"], stage.index)
                src_state = self.states[src_stage.index]
                src = self.host_path(src_state, source)
                if not src.exists():
                    raise CheckFailed(f"line {ins.line}: COPY --from={flags['from']} {source}: "
                                      "not there after that stage's build")
                copied += self._copy_path(src, dest_path, dest_is_dir)
                continue
            if self.context_list is None:
                self.context_list = context_files(self.context)
                if any(f == "target" or f.startswith("target/") for f in self.context_list):
                    raise CheckFailed("the build context holds target/: add it to .dockerignore")
            norm = os.path.normpath(source).lstrip("/")
            norm = "" if norm == "." else norm
            matched = [f for f in self.context_list
                       if not norm or f == norm or f.startswith(norm + "/")
                       or fnmatch.fnmatchcase(f, norm)]
            if not matched:
                raise CheckFailed(f"line {ins.line}: COPY {source}: not in the build context "
                                  "(missing, or excluded by .dockerignore)")
            for rel in matched:
                src = self.context / rel
                if not norm or (rel != norm and not fnmatch.fnmatchcase(rel, norm)):
                    # A directory's contents go into the destination, keeping their layout.
                    inner = rel[len(norm):].lstrip("/") if norm else rel
                    target = dest_path / inner
                elif dest_is_dir:
                    target = dest_path / Path(rel).name
                else:
                    target = dest_path
                copied += self._copy_path(src, target, False)
        log(f"  line {ins.line}: COPY {ins.args} ({copied} files)")

    @staticmethod
    def _copy_path(src: Path, dest: Path, into_dir: bool) -> int:
        if src.is_dir() and not src.is_symlink():
            shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True)
            return sum(len(f) for _, _, f in os.walk(dest))
        if into_dir:
            dest = dest / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            if dest.exists() or dest.is_symlink():
                dest.unlink()
            dest.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, dest)  # COPY keeps modification times, so does this
        return 1

    def run_command(self, stage: Stage, state: StageState, ins: Instruction) -> None:
        flags, words = split_flags(ins.args)
        if flags:
            raise CheckFailed(f"line {ins.line}: RUN --{next(iter(flags))} is not replayed by this check")
        cwd = self.host_path(state, state.workdir)
        cwd.mkdir(parents=True, exist_ok=True)
        target = cwd / "target"
        if state.workdir != "/" and not target.exists() and not target.is_symlink():
            (self.cache / "docker-target").mkdir(parents=True, exist_ok=True)
            target.symlink_to(self.cache / "docker-target")
        tools = self.cache / "tools"
        env = dict(os.environ)
        env.update(state.env)
        env["CARGO_INSTALL_ROOT"] = str(tools)
        env["PATH"] = f"{tools / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env.pop("CARGO_TARGET_DIR", None)
        form = exec_form(ins.args)
        if form is not None:
            argv = [self.rewrite_paths(stage, w) for w in form]
        else:
            argv = ["/bin/sh", "-c", self.rewrite_paths(stage, ins.args)]
        log(f"  line {ins.line}: RUN {ins.args}")
        started = time.monotonic()
        result = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL)
        took = time.monotonic() - started
        self.timings.append((f"line {ins.line}: RUN {ins.args[:50]}", took))
        log(f"  line {ins.line}: exit {result.returncode} after {took:.1f} s")
        if result.returncode != 0:
            raise CheckFailed(f"line {ins.line}: RUN {ins.args} failed (exit {result.returncode}): "
                              "`docker build` would fail here")

    def rewrite_paths(self, stage: Stage, text: str) -> str:
        """Absolute paths of WORKDIRs (as in /src/recipe.json) become the stage's directories."""
        state = self.states[stage.index]
        dirs = sorted({i.args for s in self.stages for i in s.instructions
                       if i.op == "WORKDIR" and i.args.startswith("/") and i.args != "/"},
                      key=len, reverse=True)
        for d in dirs:
            text = re.sub(rf"(?<![\w./-]){re.escape(d)}(?=/|\s|$|[\"';&|])",
                          str(self.host_path(state, d)), text)
        return text


# ------------------------------------------------------------------ runtime stage


def runtime_settings(stage: Stage) -> dict:
    def all_of(op):
        return [i for i in stage.instructions if i.op == op]

    def one(op):
        found = all_of(op)
        if len(found) != 1:
            raise CheckFailed(f"the runtime stage needs exactly one {op}, has {len(found)}")
        return found[0].args

    env: dict[str, str] = {}
    for ins in all_of("ENV"):
        env.update(parse_env(ins.args))
    volumes = exec_form(one("VOLUME")) or one("VOLUME").split()
    health = one("HEALTHCHECK")
    if health.strip().upper() == "NONE":
        raise CheckFailed("HEALTHCHECK NONE: the image promises a health check")
    m = re.search(r"(?:^|\s)CMD\s+(.*)$", health)
    if not m:
        raise CheckFailed(f"HEALTHCHECK {health}: no CMD")
    health_cmd = exec_form(m.group(1)) or shlex.split(m.group(1))
    users = all_of("USER")
    return {
        "env": env,
        "volumes": volumes,
        "user": users[-1].args.strip() if users else None,
        "healthcheck": health_cmd,
        "entrypoint": exec_form(one("ENTRYPOINT")) or shlex.split(one("ENTRYPOINT")),
        "cmd": exec_form(one("CMD")) or shlex.split(one("CMD")),
        "expose": [i.args.split("/")[0] for i in all_of("EXPOSE")],
        "runs": [i.args for i in all_of("RUN")],
    }


def check_user(settings: dict) -> None:
    user = settings["user"]
    if not user:
        raise CheckFailed("the runtime stage has no USER: the image would run as root")
    name = user.split(":")[0]
    if name in ("root", "0"):
        raise CheckFailed(f"USER {user}: the image would run as root")
    if not name.isdigit():
        # A named user must be created in the stage with a uid that is not 0.
        made = [r for r in settings["runs"] if re.search(rf"(useradd|adduser)\b[^&;|]*\b{re.escape(name)}\b", r)]
        if not made:
            raise CheckFailed(f"USER {name}: no RUN in the runtime stage creates that user")
        uid = re.search(r"--uid[ =](\d+)|-u (\d+)", made[0])
        if uid and int(uid.group(1) or uid.group(2)) == 0:
            raise CheckFailed(f"USER {name} is created with uid 0")
    log(f"runtime: USER {user} is not root")


def installed_name(binary_dest: str) -> str:
    return os.path.basename(binary_dest)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_runtime(stage: Stage, binaries: dict[str, Path], scratch: Path) -> None:
    """binaries: the name a command is called by in the image → the binary built here."""
    settings = runtime_settings(stage)
    check_user(settings)

    def resolve(argv: list[str]) -> list[str]:
        name = os.path.basename(argv[0])
        if name not in binaries:
            raise CheckFailed(f"{argv[0]}: not a binary the runtime stage COPYs in "
                              f"({', '.join(sorted(binaries)) or 'none'})")
        return [str(binaries[name])] + argv[1:]

    health = resolve(settings["healthcheck"])
    subcommand = [w for w in health[1:] if not w.startswith("-")][:1]
    if not subcommand:
        raise CheckFailed(f"HEALTHCHECK {settings['healthcheck']}: names no scimd subcommand")
    helped = subprocess.run([health[0], "help", subcommand[0]], capture_output=True, text=True)
    if helped.returncode != 0:
        raise CheckFailed(f"HEALTHCHECK: `scimd help {subcommand[0]}` fails: not a scimd "
                          f"subcommand ({helped.stderr.strip()[:200]})")
    log(f"runtime: HEALTHCHECK's `{subcommand[0]}` is a scimd subcommand")

    env = settings["env"]
    unknown = [k for k in env if not k.startswith(SETTINGS_PREFIX) and k not in UNPREFIXED_SETTINGS]
    if unknown:
        raise CheckFailed(f"ENV {', '.join(unknown)}: not scimd settings (SCIMD_<KEY> or DATABASE_URL)")
    db_url = env.get("SCIMD_DATABASE_URL") or env.get("DATABASE_URL")
    if not db_url or not db_url.startswith("sqlite://"):
        raise CheckFailed("the image must set SCIMD_DATABASE_URL to an SQLite file in its volume")
    db_path = db_url[len("sqlite://"):].split("?")[0]
    if len(settings["volumes"]) != 1 or os.path.dirname(db_path) != settings["volumes"][0].rstrip("/"):
        raise CheckFailed(f"VOLUME {settings['volumes']} is not the directory of the database "
                          f"{db_path}: the data would not persist")
    log(f"runtime: VOLUME {settings['volumes'][0]} holds the database {db_path}")

    # Start ENTRYPOINT+CMD with the image's ENV; the only changes: the volume is a temporary
    # directory and the listen address a free loopback port.
    volume = settings["volumes"][0].rstrip("/")
    data = scratch / "volume"
    data.mkdir()
    port = free_port()
    run_env = {"PATH": os.environ.get("PATH", ""), "HOME": str(data)}
    listen = env.get("SCIMD_LISTEN")
    if not listen:
        raise CheckFailed("the image sets no SCIMD_LISTEN")
    listen_port = listen.rsplit(":", 1)[-1]
    if settings["expose"] and listen_port not in settings["expose"]:
        raise CheckFailed(f"EXPOSE {settings['expose']} does not include SCIMD_LISTEN's port {listen_port}")
    for key, value in env.items():
        value = value.replace(volume + "/", str(data) + "/")
        if key == "SCIMD_LISTEN":
            value = f"127.0.0.1:{port}"
        run_env[key] = value
    argv = resolve(settings["entrypoint"] + settings["cmd"])
    stderr_path = scratch / "scimd.stderr"
    log(f"runtime: starting {' '.join(settings['entrypoint'] + settings['cmd'])} with the image's "
        f"ENV ({', '.join(sorted(env))}) on 127.0.0.1:{port}")
    with open(stderr_path, "w") as stderr:
        server = subprocess.Popen(argv, env=run_env, cwd=data, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        ready = False
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as res:
                    ready = res.status == 200
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if ready:
                break
            time.sleep(0.3)
        logs = stderr_path.read_text()
        if not ready:
            raise CheckFailed("scimd did not become ready with the image's settings:\n" + logs[-2000:])
        log(f"runtime: /readyz answers 200 on the port SCIMD_LISTEN gave")
        if not (data / os.path.basename(db_path)).is_file():
            raise CheckFailed(f"SCIMD_DATABASE_URL did not take effect: no {db_path} in the volume")
        log("runtime: the database was created in the volume (SCIMD_DATABASE_URL took effect)")
        # A key scimd does not know may be a warning rather than a refusal: look for it.
        for key in env:
            setting = key[len(SETTINGS_PREFIX):].lower() if key.startswith(SETTINGS_PREFIX) else key.lower()
            for line in logs.splitlines():
                lower = line.lower()
                if ("warn" in lower or "unknown" in lower) and (setting in lower or key.lower() in lower):
                    raise CheckFailed(f"ENV {key}: scimd warns about it: {line}")
        log(f"runtime: every ENV key is a setting scimd accepts ({', '.join(sorted(env))})")
        check = subprocess.run(health, env=run_env, cwd=data, capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise CheckFailed(f"HEALTHCHECK {settings['healthcheck']} fails against the running "
                              f"server: {check.stderr.strip()[:300]}")
        log("runtime: the HEALTHCHECK command passes against the running server")
    finally:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(server.pid, signal.SIGKILL)
                server.wait()


def runtime_binaries(replay: Replay, final: StageState) -> dict[str, Path]:
    """Binaries the runtime stage COPYs from a build stage into a directory on PATH."""
    found = {}
    for ins in replay.stages[-1].instructions:
        if ins.op != "COPY":
            continue
        flags, words = split_flags(ins.args)
        if "from" not in flags:
            continue
        dest = words[-1]
        for source in words[:-1]:
            path = dest if not dest.endswith("/") else dest + os.path.basename(source)
            host = replay.host_path(final, path)
            if host.is_file() and os.access(host, os.X_OK):
                found[os.path.basename(path)] = host
    return found


# ------------------------------------------------------------------------- main


def check(dockerfile: Path, cache: Path, context: Path = REPO) -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="scimd_dockerfile_") as tmp:
        scratch = Path(tmp)
        replay = Replay(dockerfile, context, cache, scratch)
        final = replay.run()
        build_time = time.monotonic() - started
        binaries = runtime_binaries(replay, final)
        if "scimd" not in binaries:
            raise CheckFailed("the runtime stage does not COPY an executable scimd from a build stage")
        check_runtime(replay.stages[-1], binaries, scratch)
    for what, took in replay.timings:
        log(f"timing: {took:7.1f} s  {what}")
    log(f"timing: build stages {build_time:.1f} s, all {time.monotonic() - started:.1f} s")


def selftest(cache: Path) -> None:
    """The check must fail on broken Dockerfiles; each case names how it is broken."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="scimd_dockerfile_selftest_") as tmp:
        tmp = Path(tmp)
        cases: list[tuple[str, str]] = []
        old = subprocess.run(["git", "-C", str(REPO), "show", "87b5a33:Dockerfile"],
                             capture_output=True, text=True)
        if old.returncode != 0:
            raise CheckFailed(f"selftest: cannot read the old Dockerfile: {old.stderr.strip()}")
        cases.append(("placeholder sources that miss a bench and the test targets", old.stdout))
        current = (REPO / "Dockerfile").read_text()
        cases.append(("a COPY of a file the context lacks",
                      current.replace("COPY . .\nRUN cargo chef prepare",
                                      "COPY . .\nCOPY missing.toml ./\nRUN cargo chef prepare")))
        failures = 0
        for name, text in cases:
            path = tmp / "Dockerfile"
            path.write_text(text)
            try:
                # Stop at the first RUN that fails (quick): build stages only.
                with tempfile.TemporaryDirectory(prefix="scimd_dockerfile_case_") as case:
                    Replay(path, REPO, cache, Path(case)).run()
            except CheckFailed as e:
                log(f"selftest: fails as it should on {name}: {e}")
                continue
            log(f"selftest: PASSED a broken Dockerfile ({name})")
            failures += 1

        # Runtime-stage promises, against the binary the full check built (run it first).
        binary = cache / "docker-target" / "release" / "scimd"
        if not binary.is_file():
            raise CheckFailed(f"selftest: {binary} is missing: run the full check first")
        broken_runtime = [
            ("USER root", current.replace("USER scimd", "USER root")),
            ("no USER", current.replace("USER scimd\n", "")),
            ("a HEALTHCHECK command scimd lacks",
             current.replace('CMD ["scimd", "healthcheck"]', 'CMD ["scimd", "healthz"]')),
            ("a VOLUME that is not the database's directory",
             current.replace('VOLUME ["/data"]', 'VOLUME ["/var/lib/scimd"]')),
            ("an ENV key scimd does not know",
             current.replace("SCIMD_LISTEN=0.0.0.0:8080 \\", "SCIMD_LISTEN=0.0.0.0:8080 SCIMD_LISTN=x \\")),
            ("an ENV value scimd refuses",
             current.replace("SCIMD_LISTEN=0.0.0.0:8080 \\", "SCIMD_LISTEN=0.0.0.0:8080 SCIMD_MAX_RESULTS=0 \\")),
        ]
        for name, text in broken_runtime:
            if text == current:
                raise CheckFailed(f"selftest: the case '{name}' no longer changes the Dockerfile: update it")
            stage = parse_dockerfile(text)[-1]
            with tempfile.TemporaryDirectory(prefix="scimd_dockerfile_case_") as case:
                try:
                    check_runtime(stage, {"scimd": binary}, Path(case))
                except CheckFailed as e:
                    log(f"selftest: fails as it should on {name}: {str(e).splitlines()[0]}")
                    continue
            log(f"selftest: PASSED a broken runtime stage ({name})")
            failures += 1
    log(f"timing: selftest {time.monotonic() - started:.1f} s")
    if failures:
        raise CheckFailed(f"selftest: {failures} broken Dockerfile(s) passed the check")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dockerfile", type=Path, default=REPO / "Dockerfile")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="tools and the cargo target dir kept between runs (default: %(default)s)")
    parser.add_argument("--selftest", action="store_true",
                        help="prove the check fails on broken Dockerfiles")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    cache = args.cache.resolve()
    try:
        if args.selftest:
            selftest(cache)
        else:
            check(args.dockerfile.resolve(), cache)
    except CheckFailed as e:
        log(f"FAILED: {e}")
        return 1
    log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
