#!/usr/bin/env python3
"""A local two-instance stack for trying the scale-out mode, all on loopback (README "Deploy"):
PostgreSQL, Redis (append-only file, fsync always), two bot instances in webhook mode, HAProxy in front.

    make stack                          # = .venv/bin/python scripts/stack.py up
    .venv/bin/python scripts/stack.py smoke    # a person sends /start through HAProxy; prints the answer
    .venv/bin/python scripts/stack.py status
    .venv/bin/python scripts/stack.py down     # stops everything and deletes the (throw-away) data

Telegram: with BOT_TOKEN and WEBHOOK_URL (a public https:// URL that reaches HAProxy's port, through a tunnel
say) in the environment, the real one; without BOT_TOKEN, the project's fake Bot API (tests/fake_server.py)
plays Telegram on loopback, delivering updates to HAProxy by webhook POST with retries. The webhook is
registered once with ``python -m bot set-webhook``, as in production. PostgreSQL runs with fsync off here
(test data): a production server keeps fsync and synchronous_commit on (docs/deploy.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts import services  # noqa: E402  # the PostgreSQL start of the test services, reused

INSTANCES = ("a", "b")


def log(msg: str) -> None:
    print(f"stack: {msg}", file=sys.stderr, flush=True)


def stack_dir() -> Path:
    tag = hashlib.sha1(str(ROOT).encode()).hexdigest()[:10]
    return Path(os.environ.get("SHAGYM_STACK_DIR") or Path(tempfile.gettempdir()) / f"shagym-stack-{tag}")


class Stack:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.file = root / "stack.json"
        self.python = str(ROOT / ".venv" / "bin" / "python")

    def load(self) -> dict:
        try:
            return json.loads(self.file.read_text())
        except (OSError, ValueError):
            return {}

    def save(self, **values: object) -> None:
        self.file.write_text(json.dumps({**self.load(), **values}, indent=1))

    # ------------------------------------------------------------------ parts
    def start_redis(self) -> int:
        port = services.free_port()
        data = self.root / "redis"
        data.mkdir(parents=True, exist_ok=True)
        services.run([services.redis_server(), str(ROOT / "deploy" / "redis.conf"), "--port", str(port),
                      "--dir", str(data), "--daemonize", "yes", "--pidfile", str(data / "redis.pid"),
                      "--logfile", str(data / "redis.log")])
        wait_for(lambda: services.redis_ping(port), 10, "redis")
        self.save(redis_port=port)
        return port

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> int:
        out = open(self.root / f"{name}.log", "ab")  # noqa: SIM115  # the child keeps it
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.save(**{f"{name}_pid": proc.pid})
        return proc.pid

    def start_fake_telegram(self) -> dict:
        state_file = self.root / "fake.json"
        state_file.unlink(missing_ok=True)
        self.spawn("telegram", [self.python, "-m", "tests.fake_server", "--state-file", str(state_file)],
                   dict(os.environ))
        wait_for(state_file.exists, 20, "the fake Bot API")
        return json.loads(state_file.read_text())

    def start_haproxy(self, port: int, backends: dict[str, int]) -> None:
        config = (ROOT / "deploy" / "haproxy.cfg").read_text().replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        for name, backend_port in backends.items():
            config = config.replace(f"server {name} 127.0.0.1:{8081 + INSTANCES.index(name)}",
                                    f"server {name} 127.0.0.1:{backend_port}")
        cfg = self.root / "haproxy.cfg"
        cfg.write_text(config)
        pidfile = self.root / "haproxy.pid"
        services.run(["haproxy", "-D", "-f", str(cfg), "-p", str(pidfile)])
        self.save(haproxy_pid=int(pidfile.read_text().split()[0]))


def wait_for(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise SystemExit(f"stack: {what} did not start within {seconds:.0f} s")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def haproxy_binary() -> str:
    import shutil

    path = shutil.which("haproxy") or (services.apt_install("haproxy") or shutil.which("haproxy"))
    if not path:
        raise SystemExit("stack: haproxy is not installed and could not be installed")
    return path


# ------------------------------------------------------------------ commands

def cmd_up(stack: Stack) -> int:
    if stack.load().get("up"):
        log("already up (scripts/stack.py status; down to stop)")
        return cmd_status(stack)
    if not Path(stack.python).exists():
        raise SystemExit("stack: run `make setup` first (the bot's virtualenv)")
    haproxy_binary()
    stack.root.mkdir(parents=True, exist_ok=True)
    stack.root.chmod(0o755)  # the postgres user reaches its directory
    t0 = time.monotonic()
    pg = services.State(stack.root / "services")
    pg.root.mkdir(parents=True, exist_ok=True)
    pg.root.chmod(0o755)
    pg_port = services.start_postgres(pg, services.pg_bindir())
    redis_port = stack.start_redis()
    front = services.free_port()
    ports = {name: services.free_port() for name in INSTANCES}
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_PATH",)}
    if os.environ.get("BOT_TOKEN"):
        if not os.environ.get("WEBHOOK_URL", "").startswith("https://"):
            raise SystemExit("stack: WEBHOOK_URL: a public https:// URL reaching 127.0.0.1:<front port> is "
                             "required with a real BOT_TOKEN")
        telegram = {"base_url": os.environ.get("TELEGRAM_API_BASE", "")}
    else:
        telegram = stack.start_fake_telegram()
        env.update(BOT_TOKEN=telegram["token"], TELEGRAM_API_BASE=telegram["base_url"],
                   WEBHOOK_URL=f"http://127.0.0.1:{front}/telegram")
    env.update(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{pg_port}/{services.DATABASE}",
               REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
               WEBHOOK_SECRET=env.get("WEBHOOK_SECRET") or secrets.token_urlsafe(24))
    stack.save(pg_port=pg_port, front_port=front, ports=ports, telegram=telegram,
               webhook_url=env["WEBHOOK_URL"])
    for name in INSTANCES:
        stack.spawn(f"bot-{name}", [stack.python, "-m", "bot", "run"],
                    {**env, "WEBHOOK_LISTEN": f"127.0.0.1:{ports[name]}",
                     "DATABASE_PATH": str(stack.root / f"{name}.sqlite3")})
    for name in INSTANCES:
        wait_for(lambda n=name: http_ok(f"http://127.0.0.1:{ports[n]}/readyz"), 60, f"instance {name} "
                 f"(log: {stack.root / f'bot-{name}.log'})")
    stack.start_haproxy(front, ports)
    wait_for(lambda: http_ok(f"http://127.0.0.1:{front}/readyz"), 10, "haproxy")
    done = subprocess.run([stack.python, "-m", "bot", "set-webhook"], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    if done.returncode:
        raise SystemExit(f"stack: set-webhook failed: {done.stderr.strip()}")
    stack.save(up=True)
    log(f"up in {time.monotonic() - t0:.1f} s; {done.stdout.strip()}")
    return cmd_status(stack)


def cmd_status(stack: Stack) -> int:
    data = stack.load()
    if not data.get("up"):
        print("stack: down")
        return 1
    print(f"haproxy     http://127.0.0.1:{data['front_port']} -> "
          + ", ".join(f"{n} 127.0.0.1:{p} ({'ready' if http_ok(f'http://127.0.0.1:{p}/readyz') else 'NOT ready'})"
                      for n, p in data["ports"].items()))
    print(f"webhook     {data['webhook_url']}")
    print(f"postgresql  postgresql://postgres@127.0.0.1:{data['pg_port']}/{services.DATABASE}")
    print(f"redis       redis://127.0.0.1:{data['redis_port']}/0 (appendonly yes, appendfsync always)")
    print(f"telegram    {data['telegram'].get('base_url') or 'api.telegram.org'}"
          + (" (the fake Bot API; try: scripts/stack.py smoke)" if data["telegram"].get("control_url") else ""))
    print(f"logs        {stack.root}/bot-a.log, bot-b.log")
    return 0


def cmd_smoke(stack: Stack) -> int:
    control = stack.load().get("telegram", {}).get("control_url")
    if not control:
        raise SystemExit("stack: smoke needs the fake Bot API (a stack started without BOT_TOKEN)")
    user = 1001
    before = len(json.loads(urllib.request.urlopen(f"{control}/chat/{user}").read()))
    request = urllib.request.Request(f"{control}/send", data=json.dumps({"user": user, "text": "/start"}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        messages = json.loads(urllib.request.urlopen(f"{control}/chat/{user}").read())
        if len(messages) > before:
            for m in messages[before:]:
                print(f"« {m['text']}\n  {m['buttons']}")
            print(json.loads(urllib.request.urlopen(f"{control}/stats").read()))
            return 0
        time.sleep(0.1)
    raise SystemExit("stack: no answer within 15 s (see the logs: scripts/stack.py status)")


def cmd_down(stack: Stack) -> int:
    data = stack.load()
    for key in ("haproxy_pid", "bot-a_pid", "bot-b_pid", "telegram_pid"):
        pid = data.get(key)
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for key in ("bot-a_pid", "bot-b_pid", "telegram_pid"):
        pid = data.get(key)
        deadline = time.monotonic() + 45
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
    redis_pid = stack.root / "redis" / "redis.pid"
    if redis_pid.exists():
        try:
            os.kill(int(redis_pid.read_text().split()[0]), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass
    pg = services.State(stack.root / "services")
    if (pg.pgdata / "PG_VERSION").exists():
        services.as_postgres([str(services.pg_bindir() / "pg_ctl"), "-D", str(pg.pgdata), "-m", "fast", "-w",
                              "stop"], check=False)
    import shutil

    shutil.rmtree(stack.root, ignore_errors=True)
    log("down")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = {"up": cmd_up, "status": cmd_status, "smoke": cmd_smoke, "down": cmd_down}
    if len(argv) != 1 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    return commands[argv[0]](Stack(stack_dir()))


if __name__ == "__main__":
    raise SystemExit(main())
