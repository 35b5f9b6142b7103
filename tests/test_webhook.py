"""Webhook mode (bot/webhook.py): the whole bot as one or two instances the fake Bot API POSTs updates to
(tests/fake_webhook.py), sharing Redis; the configuration keys of the scale-out mode (bot/config.py)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.config import ConfigError, claim_database_path, load_settings
from tests import harness
from tests.fake_webhook import SECRET_HEADER, WebhookDeliverer
from tests.harness import WEBHOOK_SECRET, register_webhook, webhook_instance

TOKEN = "123456:TEST"


# ------------------------------------------------------------------------------------------ configuration

@pytest.mark.parametrize(("values", "key"), [
    ({"bot_token": TOKEN, "webhook_url": "https://bot.example.kz/tg"}, "WEBHOOK_SECRET"),
    ({"webhook_url": "https://bot.example.kz/tg", "webhook_secret": "abc"}, "BOT_TOKEN"),
    ({"bot_token": TOKEN, "webhook_url": "http://bot.example.kz/tg", "webhook_secret": "abc"}, "WEBHOOK_URL"),
    ({"bot_token": TOKEN, "webhook_url": "https://bot.example.kz/tg", "webhook_secret": "has space"},
     "WEBHOOK_SECRET"),
    ({"webhook_listen": "8080"}, "WEBHOOK_LISTEN"),
    ({"redis_url": "localhost:6379"}, "REDIS_URL"),
])
def test_wrong_settings_stop_with_one_line_naming_the_key(values, key, tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(database_path=tmp_path / "db.sqlite3", **values)
    line = str(err.value)
    assert "\n" not in line and line.startswith(f"configuration error: {key}:"), line
    assert "abc" not in line and "has space" not in line  # secrets are never echoed


def test_a_right_webhook_configuration_is_accepted(tmp_path):
    settings = load_settings(database_path=tmp_path / "db.sqlite3", bot_token=TOKEN,
                             webhook_url="https://bot.example.kz/tg/hook", webhook_secret="s3cret_-X",
                             webhook_listen="0.0.0.0:8443", redis_url="redis://127.0.0.1:6379/2")
    assert settings.webhook_mode and settings.webhook_path == "/tg/hook"
    assert settings.listen_host_port == ("0.0.0.0", 8443)


def test_a_second_instance_on_one_sqlite_file_stops_naming_the_key(tmp_path):
    settings = load_settings(database_path=tmp_path / "db.sqlite3")
    first = claim_database_path(settings)
    try:
        with pytest.raises(ConfigError) as err:
            claim_database_path(settings)
        line = str(err.value)
        assert "\n" not in line and line.startswith("configuration error: DATABASE_PATH:")
        assert "DATABASE_URL" in line
    finally:
        first.close()
    claim_database_path(settings).close()  # the first one ended: the file is free again


def test_instances_on_postgresql_do_not_claim_the_sqlite_file(tmp_path):
    settings = load_settings(database_path=tmp_path / "db.sqlite3", database_url="postgresql://u@127.0.0.1/x")
    assert claim_database_path(settings) is None and claim_database_path(settings) is None
    assert not (tmp_path / "db.sqlite3.instance.lock").exists()


@pytest.mark.parametrize("where", ["nowhere", "the test server"])
def test_a_redis_that_cannot_be_used_stops_the_start_with_one_line(where, tmp_path, redis_url):
    """``python -m bot``: an unreachable Redis, or one that would lose acknowledged steps (the test server runs
    without an append-only file), stops the start with exit status 2 and one line naming REDIS_URL."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    url = "redis://127.0.0.1:1/0" if where == "nowhere" else redis_url
    env = {**os.environ, "BOT_TOKEN": TOKEN, "REDIS_URL": url, "DATABASE_PATH": str(tmp_path / "db.sqlite3"),
           "WEBHOOK_URL": "https://bot.example.kz/tg", "WEBHOOK_SECRET": "abc"}
    done = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=Path(__file__).resolve().parent.parent,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("configuration error: REDIS_URL: "), lines
    expected = "cannot reach Redis" if where == "nowhere" else "appendfsync always"
    assert expected in lines[0] and url not in lines[0]


async def test_postgresql_with_a_webhook_but_no_redis_starts_with_one_warning_naming_redis_url(fake, tmp_path,
                                                                                              pg_url):
    """One instance on PostgreSQL behind a webhook is legitimate, but a second one would share neither the update
    de-duplication nor Telegram's limits: ``python -m bot run`` starts (ready) and says so in one warning line
    naming REDIS_URL; with REDIS_URL, or on SQLite, or polling, there is nothing to say."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from bot.config import scale_out_warning
    from scripts.services import free_port

    port = free_port()
    env = {**os.environ, "BOT_TOKEN": fake.token, "TELEGRAM_API_BASE": fake.base_url, "DATABASE_URL": pg_url,
           "WEBHOOK_URL": "http://127.0.0.1/telegram/webhook", "WEBHOOK_SECRET": WEBHOOK_SECRET,
           "WEBHOOK_LISTEN": f"127.0.0.1:{port}", "DATABASE_PATH": str(tmp_path / "unused.sqlite3"),
           "OPERATORS_CHAT_ID": "", "LOG_LEVEL": "INFO"}
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=Path(__file__).resolve().parent.parent,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            assert proc.poll() is None, f"the instance exited with {proc.returncode}"
            try:
                if (await get(f"http://127.0.0.1:{port}/readyz"))[0] == 200:
                    break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the instance never became ready")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    lines = [line for line in err.splitlines() if "REDIS_URL" in line]
    assert len(lines) == 1 and "WARNING" in lines[0] and "one instance" in lines[0], err
    assert proc.returncode == 0, err
    base = {"bot_token": TOKEN, "webhook_url": "https://bot.example.kz/tg", "webhook_secret": "abc",
            "database_url": "postgresql://u@127.0.0.1/x"}
    assert scale_out_warning(load_settings(**base)) is not None
    assert scale_out_warning(load_settings(**base, redis_url="redis://127.0.0.1:6379/0")) is None
    assert scale_out_warning(load_settings(**{**base, "database_url": ""})) is None  # SQLite: one instance anyway
    assert scale_out_warning(load_settings(**{**base, "webhook_url": None})) is None  # polling: one getUpdates


# ------------------------------------------------------------------------------------------ the server

async def post(url: str, update: dict, secret: str | None = WEBHOOK_SECRET) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with aiohttp.ClientSession() as http, http.post(url, json=update, headers=headers) as resp:
        return resp.status


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, await resp.text()


def start_update(fake, user_id: int, update_id: int) -> dict:
    user = fake.user(user_id)
    msg = user._base_message(None, None, None)
    msg.update(text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    return {"update_id": update_id, "message": msg}


async def test_the_secret_is_checked_and_the_health_checks_answer(fake, db_path, redis_url):
    async with webhook_instance(fake, db_path, redis_url=redis_url) as server:
        base = f"http://127.0.0.1:{server.port}"
        update = start_update(fake, 4001, 7_000_001)
        assert await post(server.url, update, secret=None) == 401
        assert await post(server.url, update, secret="wrong") == 401
        assert fake.messages_in(4001) == [] and server.handler.counts["handled"] == 0
        assert await get(base + "/healthz") == (200, "ok\n")
        assert await get(base + "/readyz") == (200, "ready\n")
        assert await post(server.url, update) == 200
        await fake.idle()
        assert len(fake.messages_in(4001)) == 1
        server.ready = False  # stopping: the balancer is told to send elsewhere
        assert (await get(base + "/readyz"))[0] == 503
        assert (await get(base + "/healthz"))[0] == 200


async def test_readyz_says_when_redis_is_gone(fake, db_path, redis_url):
    async with webhook_instance(fake, db_path, redis_url=redis_url) as server:
        base = f"http://127.0.0.1:{server.port}"
        assert (await get(base + "/readyz"))[0] == 200
        shared, gone = server.app.redis, Redis.from_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
        server.app.redis = gone  # as if this instance lost its Redis
        try:
            status, text = await get(base + "/readyz")
        finally:
            server.app.redis = shared
            await gone.aclose()
        assert status == 503 and "storage" in text
        assert (await get(base + "/readyz"))[0] == 200


async def test_the_same_update_posted_twice_to_both_instances_is_handled_once(fake, tmp_path, redis_url, pg_url):
    shared = {"redis_url": redis_url, "database_url": pg_url}  # one PostgreSQL database, one Redis
    async with webhook_instance(fake, tmp_path / "a.sqlite3", **shared) as a, \
            webhook_instance(fake, tmp_path / "b.sqlite3", **shared) as b:
        for n in range(10):
            update = start_update(fake, 4100 + n, 7_100_000 + n)
            # at once to both (a proxy retrying while the first is in flight), then again to each
            first = await asyncio.gather(post(a.url, update), post(b.url, update))
            assert sorted(first) in ([200, 200], [200, 503]), first  # one handled it; the other: done or busy
            assert await post(a.url, update) == 200 and await post(b.url, update) == 200
        await fake.idle()
        for n in range(10):
            assert len(fake.messages_in(4100 + n)) == 1, n  # one language question each, never two
        assert a.handler.counts["handled"] + b.handler.counts["handled"] == 10
        assert a.handler.counts["duplicate"] + b.handler.counts["duplicate"] >= 20


async def test_a_storage_failure_is_answered_500_and_the_retry_is_handled(fake, db_path, redis_url):
    """Redis fails while the update is handled: Telegram gets 500 (never 200 for an update not handled),
    delivers it again, and the retry is handled once."""
    async with webhook_instance(fake, db_path, redis_url=redis_url) as server:
        register_webhook(fake, server.url)
        fsm = server.app.fsm
        real_set_state = fsm.set_state
        failures = {"left": 1}

        async def flaky_set_state(key, state=None):
            if failures["left"]:
                failures["left"] -= 1
                from redis.exceptions import ConnectionError as RedisConnectionError

                raise RedisConnectionError("connection reset")
            return await real_set_state(key, state)

        fsm.set_state = flaky_set_state  # type: ignore[method-assign]
        async with WebhookDeliverer(fake, retry_delays=(0.05,)) as hooks:
            user = fake.user(4201, language_code="ru")
            uid = await fake.push_update({"message": {**start_update(fake, 4201, 0)["message"]}})
            await hooks.wait_delivered(timeout=20)
        statuses = [d.status for d in hooks.attempts_of(uid)]
        assert statuses[0] == 500 and statuses[-1] == 200, statuses
        await fake.idle()
        assert len(user.messages) == 1  # asked the language once, not an apology and a question
        assert server.handler.counts["failed"] == 1 and server.handler.counts["handled"] == 1


async def test_set_webhook_registers_the_url_once(fake, db_path, monkeypatch, capsys):
    from bot.__main__ import main

    env = {"BOT_TOKEN": fake.token, "TELEGRAM_API_BASE": fake.base_url, "DATABASE_PATH": str(db_path),
           "WEBHOOK_URL": "https://bot.example.kz/telegram", "WEBHOOK_SECRET": WEBHOOK_SECRET}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    loop = asyncio.get_running_loop()
    code = await loop.run_in_executor(None, main, ["set-webhook"])
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert out.startswith("webhook set: https://bot.example.kz/telegram (") and "callback_query" in out
    assert fake.webhook["url"] == "https://bot.example.kz/telegram"
    assert fake.webhook["secret_token"] == WEBHOOK_SECRET
    assert "message" in fake.webhook["allowed_updates"]
    monkeypatch.delenv("WEBHOOK_SECRET")
    assert await loop.run_in_executor(None, main, ["set-webhook"]) == 2
    assert capsys.readouterr().err.startswith("configuration error: WEBHOOK_SECRET:")
    assert len(fake.calls_of("setWebhook")) == 1


async def test_an_update_whose_instance_died_mid_way_is_replayed_without_applying_it_twice(fake, db_path,
                                                                                          redis_url, monkeypatch):
    """An instance took the update and died (its lease in Redis, never "done"): Telegram delivers it again,
    the next instance finds the expired lease and, not knowing whether the answer was applied, asks the
    person the question they are on instead of applying it a second time."""
    from storage.redis import RedisUpdateLedger
    from tests.test_scaleout import SCRIPT, Person

    monkeypatch.setitem(harness.BACKEND, "redis_url", redis_url)  # fsm_entry reads Redis

    def draft() -> dict:
        entry = harness.fsm_entry(db_path, 4301)
        assert entry is not None
        return entry[1]

    async with webhook_instance(fake, db_path, redis_url=redis_url) as server:
        register_webhook(fake, server.url)
        async with WebhookDeliverer(fake, retry_delays=(0.05,)) as hooks:
            person = Person(fake, fake.user(4301, language_code="ru"))
            await person.walk(SCRIPT.index("Әлиханқызы"))  # the wizard asks for the surname
            asked = person.prompt
            await hooks.wait_delivered()
        assert draft()["step"] == "surname"
        update = {"update_id": 7_300_001, "message": {**start_update(fake, 4301, 0)["message"], "text": "Әлиев",
                                                      "entities": []}}
        dead = RedisUpdateLedger(server.app.redis, fake.bot_id, owner="dead-instance", lease_seconds=0.2)
        assert await dead.claim(update["update_id"]) == "new"  # it took the update, then was SIGKILLed
        assert await post(server.url, update) == 503  # its lease is still alive: "later"
        await asyncio.sleep(0.3)
        assert await post(server.url, update) == 200
        await fake.idle()
        again = fake.messages_in(4301)[-1]
        assert again.text.endswith(asked.text) and again.message_id != asked.message_id  # the same question, anew
        assert draft()["step"] == "surname"
        assert draft()["draft"]["surname"] is None
        assert server.handler.counts["replayed"] == 1
        assert await post(server.url, update) == 200  # done now: a third delivery changes nothing
        await fake.idle()
        assert fake.messages_in(4301)[-1].message_id == again.message_id



async def test_an_instance_killed_mid_update_loses_nothing_and_applies_nothing_twice(fake, tmp_path, redis_url,
                                                                                     pg_url, monkeypatch):
    """A real instance (``python -m bot run``, webhook mode, PostgreSQL + Redis) is SIGKILLed while it sends
    the reply to a wizard answer (the answer was stored, the reply never left). Telegram had no answer, so
    it delivers the update again, to the other instance: after the dead one's lease it replays the update,
    which asks the person the question they are really on. The answer is stored once, nobody is left
    without a reply."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from scripts.services import free_port
    from tests.test_scaleout import SCRIPT, Person
    from tests.test_wizard import prompt_n

    monkeypatch.setitem(harness.BACKEND, "redis_url", redis_url)
    port = free_port()
    env = {**os.environ, "BOT_TOKEN": fake.token, "TELEGRAM_API_BASE": fake.base_url, "DATABASE_URL": pg_url,
           "REDIS_URL": redis_url, "REDIS_DURABILITY": "relaxed", "WEBHOOK_URL": "http://127.0.0.1/telegram/webhook",
           "WEBHOOK_SECRET": WEBHOOK_SECRET, "WEBHOOK_LISTEN": f"127.0.0.1:{port}", "UPDATE_LEASE_SECONDS": "1",
           "DATABASE_PATH": str(tmp_path / "unused.sqlite3"), "OPERATORS_CHAT_ID": "", "LOG_LEVEL": "WARNING"}
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            if proc.poll() is not None:
                raise AssertionError(f"the instance exited with {proc.returncode}")
            try:
                if (await get(base + "/readyz"))[0] == 200:
                    break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        register_webhook(fake, base + "/telegram/webhook")
        async with WebhookDeliverer(fake, retry_delays=(0.2,), timeout=60) as hooks:
            person = Person(fake, fake.user(4401, language_code="ru"))
            await person.walk(SCRIPT.index("Әлиханқызы"))  # the killed instance asks for the surname
            gate = fake.hold("sendMessage", 4401)
            await person.user.send("Әлиев")
            await _held(fake)
            os.kill(proc.pid, signal.SIGKILL)  # mid-update: stored the surname, sending the next question
            proc.wait(10)
            async with webhook_instance(fake, tmp_path / "b.sqlite3", redis_url=redis_url, database_url=pg_url,
                                        update_lease_seconds=1) as other:
                hooks.urls = [other.url]  # Telegram's retries now reach the other instance
                gate.set()  # the dead instance's request was cut: the fake drops it
                await hooks.wait_delivered(timeout=60)
                await fake.idle()
                assert other.handler.counts["replayed"] == 1, other.handler.counts
            entry = harness.fsm_entry(tmp_path, 4401)
            assert entry is not None
            draft = entry[1]
            assert draft["step"] == "first_name" and draft["draft"]["surname"] == "Әлиев"  # stored, once
            last = fake.messages_in(4401)[-1]
            assert "Әлиев" in last.text  # what was saved is shown, then the question the person is on
            assert prompt_n(last) > prompt_n(person.prompt)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def _held(fake) -> None:
    for _ in range(300):
        if fake.held_calls:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the instance never sent the reply")


async def test_a_posted_update_is_read_as_polling_reads_one(fake, db_path, monkeypatch):
    """The webhook reads a body with the bot's session (bot/session.py read_update), as polling reads getUpdates:
    the first update of a shape is validated, the next of the same shape (another person) is built without
    validation, and both are answered."""
    from aiogram.types import Update

    from bot.app import create_app
    from bot.webhook import running_webhook

    validated = []
    validate = Update.model_validate

    def counting(*args, **kwargs):
        validated.append(args)
        return validate(*args, **kwargs)

    monkeypatch.setattr(Update, "model_validate", counting)
    settings = harness.settings_for(fake, db_path, webhook_url="http://127.0.0.1/telegram/webhook",
                                    webhook_secret=WEBHOOK_SECRET)
    app = await create_app(settings)  # the session of a real run (bot.app.make_session), not the tests' own
    async with running_webhook(app, settings) as server:
        first, second = start_update(fake, 4101, 7_100_001), start_update(fake, 4102, 7_100_002)
        second["message"]["date"] = first["message"]["date"]  # a date read before (a new second is validated)
        assert list(first["message"]) == list(second["message"])  # the same keys: the same shape
        assert await post(server.url, first) == 200
        assert await post(server.url, second) == 200
        await fake.idle()
        assert len(fake.messages_in(4101)) == len(fake.messages_in(4102)) == 1
        assert server.handler.counts["handled"] == 2
    assert len(validated) == 1
