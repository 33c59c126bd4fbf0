#!/usr/bin/env python3
"""Check deploy/: the systemd unit and the Compose file (docs/operations.md).

- deploy/scimd.service: `systemd-analyze verify` on a temporary copy whose ExecStart points
  at the scimd binary given with --binary (verify needs the binary to exist); any message
  about the unit fails the check (verify exits 0 on an unknown key, it only warns). Then
  `systemd-analyze security --offline=yes` must rate it at or under --max-exposure, and the
  hardening options docs/operations.md promises must be set.
- deploy/compose.yaml: services scimd and postgres, each with a healthcheck; a named volume
  for Postgres's data; scimd waits for a healthy Postgres; the password and database URL
  come from the env file (no password written in the file, nor in the example env file).
- The environment keys both set are scimd settings: SCIMD_<field of Config in
  src/config.rs>, DATABASE_URL, or (compose's env file) Postgres's own POSTGRES_*.

Needs systemd-analyze (Debian's `systemd` package: no running systemd needed) and PyYAML;
it installs either when missing. Usage: .ci/deploy_check.py --binary PATH/TO/scimd
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "deploy" / "scimd.service"
COMPOSE = REPO / "deploy" / "compose.yaml"
ENV_EXAMPLE = REPO / "deploy" / "scimd.env.example"

# What docs/operations.md promises of the unit.
REQUIRED_UNIT = {
    "StateDirectory": "scimd",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "SystemCallFilter": "@system-service",
    "MemoryDenyWriteExecute": "yes",
    "ExecStart": "/usr/local/bin/scimd serve",
}

failures: list[str] = []


def log(msg: str) -> None:
    print(f"deploy-check: {msg}", flush=True)


def fail(msg: str) -> None:
    failures.append(msg)
    log(f"FAIL: {msg}")


def settings() -> set[str]:
    """Environment keys scimd reads: SCIMD_<field> for each field of Config, and DATABASE_URL."""
    source = (REPO / "src" / "config.rs").read_text()
    body = re.search(r"pub struct Config \{(.*?)\n\}", source, re.S)
    if not body:
        raise SystemExit("deploy-check: cannot find `pub struct Config` in src/config.rs")
    fields = re.findall(r"^\s*pub (\w+):", body.group(1), re.M)
    if len(fields) < 5:
        raise SystemExit(f"deploy-check: only {fields} read from Config: the parser needs updating")
    return {f"SCIMD_{f.upper()}" for f in fields} | {"DATABASE_URL"}


def ensure_systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found:
        return found
    log("installing Debian's systemd package for systemd-analyze")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "systemd"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return shutil.which("systemd-analyze") or sys.exit("deploy-check: no systemd-analyze")


def ensure_yaml():
    try:
        import yaml  # noqa: F401
    except ImportError:
        log("installing PyYAML")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "PyYAML"], check=True)
    import yaml

    return yaml


def unit_entries(text: str) -> list[tuple[str, str, str]]:
    entries, section = [], ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def check_unit(binary: Path, max_exposure: float, known: set[str]) -> None:
    analyze = ensure_systemd_analyze()
    text = UNIT.read_text()
    entries = unit_entries(text)
    values: dict[str, list[str]] = {}
    for _, key, value in entries:
        values.setdefault(key, []).append(value)
    for key, want in REQUIRED_UNIT.items():
        if want not in values.get(key, []):
            fail(f"scimd.service: {key}={want} is missing (has {values.get(key)})")
    if "yes" not in values.get("DynamicUser", []) and not values.get("User"):
        fail("scimd.service: neither DynamicUser=yes nor a dedicated User=")
    for env in values.get("Environment", []):
        for pair in env.split():
            key = pair.strip('"').partition("=")[0]
            if key not in known:
                fail(f"scimd.service: Environment={key} is not a scimd setting")
    db = [e for e in values.get("Environment", []) if e.startswith("SCIMD_DATABASE_URL=")]
    if db != ["SCIMD_DATABASE_URL=sqlite:///var/lib/scimd/scimd.db"]:
        fail(f"scimd.service: the database must be in StateDirectory: {db}")

    with tempfile.TemporaryDirectory(prefix="scimd_unit_") as tmp:
        copy = Path(tmp) / "scimd.service"
        # The only change: verify needs ExecStart's binary to exist.
        copy.write_text(text.replace("ExecStart=/usr/local/bin/scimd ", f"ExecStart={binary} "))
        result = subprocess.run([analyze, "verify", "--man=no", str(copy)],
                                capture_output=True, text=True)
        messages = [line for line in (result.stdout + result.stderr).splitlines()
                    if "scimd" in line]
        if result.returncode != 0 or messages:
            fail("systemd-analyze verify: " + "; ".join(messages or [result.stderr.strip()]))
        else:
            log("systemd-analyze verify: no messages about scimd.service")
        result = subprocess.run([analyze, "security", "--offline=yes", "--no-pager",
                                 f"--threshold={max_exposure * 10:.0f}", str(copy)],
                                capture_output=True, text=True)
        overall = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", result.stdout)
        if not overall:
            fail(f"systemd-analyze security printed no exposure level: {result.stderr.strip()}")
        elif float(overall.group(1)) > max_exposure or result.returncode != 0:
            fail(f"systemd-analyze security: exposure {overall.group(1)} {overall.group(2)} "
                 f"is over {max_exposure}")
        else:
            log(f"systemd-analyze security: exposure {overall.group(1)} {overall.group(2)} "
                f"(at most {max_exposure} allowed)")


def env_file_keys(path: Path) -> dict[str, str]:
    keys = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            if not sep:
                fail(f"{path.name}: {line!r} is not KEY=VALUE")
            keys[key.strip()] = value.strip()
    return keys


def looks_like_password(key: str, value: str) -> bool:
    if re.search(r"PASSWORD|SECRET|TOKEN", key, re.I) and value and not value.startswith("/run/secrets/"):
        return True
    return bool(re.search(r"://[^/:@\s]+:[^@\s]+@", value))  # user:password@ in a URL


def check_compose(known: set[str]) -> None:
    yaml = ensure_yaml()
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc.get("services") or {}
    for name in ("scimd", "postgres"):
        if name not in services:
            fail(f"compose.yaml: no service {name}")
    for name, service in services.items():
        test = (service.get("healthcheck") or {}).get("test")
        if not test or test == ["NONE"]:
            fail(f"compose.yaml: service {name} has no healthcheck")
    postgres = services.get("postgres", {})
    scimd = services.get("scimd", {})
    if not str(postgres.get("image", "")).startswith("postgres:16"):
        fail(f"compose.yaml: postgres should be postgres:16, is {postgres.get('image')}")
    if scimd.get("healthcheck", {}).get("test") != ["CMD", "scimd", "healthcheck"]:
        fail("compose.yaml: scimd's healthcheck must be `scimd healthcheck` (exec form)")
    named = set((doc.get("volumes") or {}).keys())
    data_mounts = [str(v).split(":")[0] for v in postgres.get("volumes", [])
                   if str(v).split(":")[1:2] == ["/var/lib/postgresql/data"]]
    if not data_mounts or data_mounts[0] not in named:
        fail(f"compose.yaml: Postgres's data is not on a named volume (volumes: {sorted(named)})")
    depends = scimd.get("depends_on") or {}
    if not isinstance(depends, dict) or depends.get("postgres", {}).get("condition") != "service_healthy":
        fail("compose.yaml: scimd must wait for postgres to be service_healthy")

    # No password in the file: not in any environment mapping, not in a URL.
    for name, service in services.items():
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(str(e).partition("=")[::2] for e in env)
        for key, value in env.items():
            if looks_like_password(key, str(value or "")):
                fail(f"compose.yaml: {name} sets {key} in the file: use the env file or a secret")
            if name == "scimd" and key not in known:
                fail(f"compose.yaml: scimd's {key} is not a scimd setting")
        env_files = service.get("env_file") or []
        env_files = [env_files] if isinstance(env_files, str) else env_files
        if not env_files and not service.get("secrets"):
            fail(f"compose.yaml: {name} reads no env file or secret for its credentials")
        for env_file in env_files:
            env_file = env_file if isinstance(env_file, str) else env_file.get("path")
            if (COMPOSE.parent / env_file).exists() and env_file != "scimd.env":
                fail(f"compose.yaml: {env_file} is committed")
    if re.search(r"://[^/:@\s]+:[^@\s$]+@", COMPOSE.read_text()):
        fail("compose.yaml: a URL with a password")
    if ["scimd.env"] != sorted({(s.get("env_file") if isinstance(s.get("env_file"), str) else "")
                                for s in services.values()} - {""}):
        fail("compose.yaml: both services read scimd.env, which scimd.env.example documents")

    example = env_file_keys(ENV_EXAMPLE)
    for key, value in example.items():
        if key.startswith("POSTGRES_"):
            continue
        if key not in known:
            fail(f"scimd.env.example: {key} is not a scimd setting")
    if "DATABASE_URL" not in example or "POSTGRES_PASSWORD" not in example:
        fail("scimd.env.example: needs DATABASE_URL and POSTGRES_PASSWORD")
    else:
        password = example["POSTGRES_PASSWORD"]
        if password != "CHANGE-ME":
            fail("scimd.env.example: the example password must be the placeholder CHANGE-ME")
        if f":{password}@postgres:5432/" not in example["DATABASE_URL"]:
            fail("scimd.env.example: DATABASE_URL must reach the postgres service with that password")
    ignored = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", "deploy/scimd.env"])
    if ignored.returncode != 0:
        fail(".gitignore: deploy/scimd.env (the real passwords) must be ignored")
    if not failures:
        log("compose.yaml: scimd and postgres with healthchecks, a named volume, credentials "
            "from scimd.env only")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, required=True, help="a built scimd binary")
    parser.add_argument("--max-exposure", type=float, default=2.0,
                        help="highest `systemd-analyze security` exposure allowed (0-10)")
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        log(f"{args.binary} is not an executable: build scimd first")
        return 1
    started = time.monotonic()
    known = settings()
    check_unit(args.binary.resolve(), args.max_exposure, known)
    check_compose(known)
    log(f"timing: {time.monotonic() - started:.1f} s")
    if failures:
        log(f"{len(failures)} problem(s)")
        return 1
    log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
