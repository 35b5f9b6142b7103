#!/usr/bin/env python3
"""PostgreSQL and Redis for the test suite and CI: install when missing, start, stop.

    eval "$(python3 scripts/services.py start)"   # prints export DATABASE_URL=... REDIS_URL=...
    python3 -m pytest                             # the PostgreSQL/Redis tests now run
    python3 scripts/services.py stop              # stops both and deletes their (throw-away) data

Idempotent: ``start`` with both already running prints the same URLs again; ``stop`` with nothing
running does nothing.  Works as root on a fresh Debian machine without systemd: PostgreSQL's
``initdb``/``pg_ctl`` run as the ``postgres`` user (``su postgres``), on a free loopback port with
the socket in the state directory and ``fsync=off`` (test data only); Redis runs daemonized on a
free loopback port with persistence off.  Missing packages are installed with apt-get.

Only the standard library: it runs before the project's virtualenv exists.
State lives in one directory per checkout (``--dir`` or SHAGYM_SERVICES_DIR to choose another).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_VERSION = "15"
PG_PACKAGES = (f"postgresql-{PG_VERSION}", "postgresql")
DATABASE = "shagym"
APT_LOCK_TIMEOUT = "300"


def log(msg: str) -> None:
    print(f"services: {msg}", file=sys.stderr, flush=True)


def default_state_dir() -> Path:
    # Under /tmp, not in the checkout: the postgres user must be able to reach it even when the
    # checkout lives under a private home directory.
    tag = hashlib.sha1(str(ROOT).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"shagym-services-{tag}"


def state_dir() -> Path:
    return Path(os.environ.get("SHAGYM_SERVICES_DIR") or default_state_dir()).resolve()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


# --------------------------------------------------------------------------- install


def apt_install(*packages: str) -> None:
    if os.geteuid() != 0:
        raise SystemExit(f"services: need root to install {' '.join(packages)} (or install them yourself)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    opts = ["-o", f"DPkg::Lock::Timeout={APT_LOCK_TIMEOUT}"]
    log(f"installing {' '.join(packages)} with apt-get")
    for attempt in range(3):  # another apt may hold the lists' lock for a moment
        if subprocess.run(["apt-get", *opts, "update", "-qq"], env=env).returncode == 0:
            break
        time.sleep(5 * (attempt + 1))
    run(["apt-get", *opts, "install", "-y", "-qq", "--no-install-recommends", *packages], env=env,
        stdout=subprocess.DEVNULL)


def pg_bindir() -> Path:
    override = os.environ.get("PG_BINDIR")
    if override:
        return Path(override)
    wanted = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")
    if not (wanted / "initdb").exists() and not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        for package in PG_PACKAGES:  # the versioned one first, Debian's default if it has no such
            try:
                apt_install(package)
                break
            except subprocess.CalledProcessError:
                log(f"could not install {package}")
    if (wanted / "initdb").exists():
        return wanted
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise SystemExit("services: PostgreSQL is not installed and could not be installed")
    log(f"PostgreSQL {PG_VERSION} not found, using {found[-1]}")
    return Path(found[-1]).parent


def redis_server() -> str:
    path = shutil.which("redis-server")
    if path is None:
        apt_install("redis-server")
        path = shutil.which("redis-server")
    if path is None:
        raise SystemExit("services: redis-server is not installed and could not be installed")
    return path


# --------------------------------------------------------------------------- state


class State:
    def __init__(self, root: Path):
        self.root = root
        self.file = root / "services.json"
        self.pgdata = root / "pg" / "data"
        self.pgsock = root / "pg" / "sock"
        self.pglog = root / "pg" / "postgres.log"
        self.redis_dir = root / "redis"

    def load(self) -> dict:
        try:
            return json.loads(self.file.read_text())
        except (OSError, ValueError):
            return {}

    def save(self, data: dict) -> None:
        self.file.write_text(json.dumps(data, indent=1))


def as_postgres(args: list[str], *, check: bool = True) -> subprocess.CompletedProcess:
    """Runs a PostgreSQL program as the postgres user (initdb/postgres refuse to run as root)."""
    cmd = " ".join(shlex.quote(a) for a in args)
    if os.geteuid() != 0:  # a developer running as the owner of the cluster
        return subprocess.run(args, check=check, capture_output=True, text=True)
    return subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", cmd], check=check,
                          capture_output=True, text=True)


def pg_running(state: State, bindir: Path) -> bool:
    if not (state.pgdata / "PG_VERSION").exists():
        return False
    return as_postgres([str(bindir / "pg_ctl"), "-D", str(state.pgdata), "status"], check=False).returncode == 0


def pg_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def start_postgres(state: State, bindir: Path) -> int:
    data = state.load()
    port = data.get("pg_port")
    if port and pg_running(state, bindir) and pg_ready(port):
        return port
    # Not running (first start, or its processes died with the machine): begin from scratch.
    shutil.rmtree(state.root / "pg", ignore_errors=True)
    state.pgdata.mkdir(parents=True)
    state.pgsock.mkdir(parents=True)
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for p in (state.root / "pg", state.pgdata, state.pgsock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    state.pgdata.chmod(0o700)
    res = as_postgres([str(bindir / "initdb"), "-D", str(state.pgdata), "-U", "postgres",
                       "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], check=False)
    if res.returncode != 0:
        raise SystemExit(f"services: initdb failed:\n{res.stdout}{res.stderr}")
    options = " ".join([
        "-c listen_addresses=127.0.0.1", f"-k {state.pgsock}",
        "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
        "-c max_connections=200", "-c shared_buffers=64MB",
    ])
    for attempt in range(5):  # the free port may be taken between choosing and binding it
        port = free_port()
        res = as_postgres([str(bindir / "pg_ctl"), "-D", str(state.pgdata), "-l", str(state.pglog),
                           "-w", "-t", "60", "-o", f"-p {port} {options}", "start"], check=False)
        if res.returncode == 0:
            break
        log(f"postgres did not start on port {port} (attempt {attempt + 1})")
    else:
        tail = state.pglog.read_text(errors="replace")[-2000:] if state.pglog.exists() else ""
        raise SystemExit(f"services: postgres did not start:\n{res.stdout}{res.stderr}{tail}")
    as_postgres([str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                 "-d", "postgres", "-qc", f"CREATE DATABASE {DATABASE}"])
    state.save({**state.load(), "pg_port": port, "pg_bindir": str(bindir)})
    return port


def redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(state: State, server: str) -> int:
    data = state.load()
    port = data.get("redis_port")
    if port and redis_ping(port):
        return port
    shutil.rmtree(state.redis_dir, ignore_errors=True)
    state.redis_dir.mkdir(parents=True)
    for attempt in range(5):
        port = free_port()
        pidfile = state.redis_dir / "redis.pid"
        run([server, "--daemonize", "yes", "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(state.redis_dir),
             "--pidfile", str(pidfile), "--logfile", str(state.redis_dir / "redis.log")])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not redis_ping(port):
            time.sleep(0.05)
        if redis_ping(port):
            break
        log(f"redis did not start on port {port} (attempt {attempt + 1})")
    else:
        raise SystemExit("services: redis did not start:\n"
                         + (state.redis_dir / "redis.log").read_text(errors="replace")[-2000:])
    state.save({**state.load(), "redis_port": port, "redis_pidfile": str(pidfile)})
    return port


def urls(data: dict) -> dict[str, str]:
    return {
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{data['pg_port']}/{DATABASE}",
        "REDIS_URL": f"redis://127.0.0.1:{data['redis_port']}/0",
    }


def print_exports(data: dict) -> None:
    for key, value in urls(data).items():
        print(f"export {key}={shlex.quote(value)}")


# --------------------------------------------------------------------------- commands


def cmd_start(state: State) -> int:
    state.root.mkdir(parents=True, exist_ok=True)
    state.root.chmod(0o755)  # the postgres user must reach its data and socket directories
    t0 = time.monotonic()
    pg_port = start_postgres(state, pg_bindir())
    redis_port = start_redis(state, redis_server())
    log(f"postgres on 127.0.0.1:{pg_port}, redis on 127.0.0.1:{redis_port} "
        f"({time.monotonic() - t0:.1f} s; state in {state.root})")
    print_exports(state.load())
    return 0


def cmd_env(state: State) -> int:
    data = state.load()
    if not (data.get("pg_port") and data.get("redis_port")):
        log("not started")
        return 1
    print_exports(data)
    return 0


def cmd_status(state: State) -> int:
    data = state.load()
    pg = bool(data.get("pg_port")) and pg_ready(data["pg_port"])
    rd = bool(data.get("redis_port")) and redis_ping(data["redis_port"])
    print(f"postgres: {'running on ' + str(data['pg_port']) if pg else 'stopped'}")
    print(f"redis: {'running on ' + str(data['redis_port']) if rd else 'stopped'}")
    return 0 if pg and rd else 1


def cmd_stop(state: State) -> int:
    data = state.load()
    if (state.pgdata / "PG_VERSION").exists():
        bindir = Path(data.get("pg_bindir") or pg_bindir())
        if pg_running(state, bindir):
            as_postgres([str(bindir / "pg_ctl"), "-D", str(state.pgdata), "-m", "immediate", "-w", "stop"],
                        check=False)
    pidfile = Path(data.get("redis_pidfile") or state.redis_dir / "redis.pid")
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 15)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.05)
    except (OSError, ValueError):
        pass
    shutil.rmtree(state.root, ignore_errors=True)
    log("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["start", "stop", "env", "status"])
    parser.add_argument("--dir", type=Path, default=state_dir(),
                        help="state directory (default: SHAGYM_SERVICES_DIR, else one per checkout under the temp directory)")
    args = parser.parse_args(argv)
    state = State(args.dir.resolve())
    return {"start": cmd_start, "stop": cmd_stop, "env": cmd_env, "status": cmd_status}[args.command](state)


if __name__ == "__main__":
    sys.exit(main())
