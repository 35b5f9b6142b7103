"""`python -m bot backup PATH` while 200 people are in the middle of the complaint wizard (the bot running and
answering them meanwhile): the file passes the integrity check, a restore is refused while the bot runs, and
the restored database gives a bot that resumes every one of those conversations. Subprocess runs of the real
entry point, as cron or a systemd timer would run them."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from pathlib import Path

from bot.domain.clock import FakeClock
from tests.harness import running_bot
from tests.test_operators import TUESDAY

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = 200
FIRST = 700_000


async def cli(*args: str, db_path: Path) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_", "OPERATORS", "DATABASE"))}
    env["DATABASE_PATH"] = str(db_path)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", *args, cwd=ROOT, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def into_wizard(user) -> None:
    """Consent given and the grounds answered: the person is on the recipient question."""
    await user.send("/complaint")
    consent = await user.expect_text("/forget", timeout=60)
    await user.press("✅", consent)
    grounds = await user.expect(timeout=60, predicate=lambda m: m.keyboard_type == "inline" and len(m.buttons) > 4)
    await user.press_data(grounds.callback_data(grounds.buttons[0]), grounds)
    await user.expect(timeout=60, predicate=lambda m: m.keyboard_type == "inline" and "cw:" in (
        m.callback_data(m.buttons[0]) or ""))


def drafts_in(path: Path) -> dict[int, dict]:
    with sqlite3.connect(path) as conn:
        return {uid: json.loads(data) for uid, data in conn.execute(
            "SELECT user_id, data FROM fsm WHERE state = 'ComplaintWizard:draft'")}


async def test_backup_while_200_people_are_mid_wizard_restores_to_a_bot_that_resumes(fake, tmp_path, db_path):
    users = [fake.user(FIRST + i, f"P{i}", language_code="ru") for i in range(PEOPLE)]
    target = tmp_path / "backups" / "shagym-backup.sqlite3"
    clock = FakeClock(TUESDAY)
    async with running_bot(fake, db_path, clock=clock) as app:
        app.scheduler.pause()
        await asyncio.gather(*(into_wizard(u) for u in users))
        # The backup runs while the people go on answering (each presses the first recipient).
        answering = asyncio.gather(*(u.press_data(u.last.callback_data(u.last.buttons[0]), u.last) for u in users))
        code, out, err = await cli("backup", str(target), db_path=db_path)
        await answering
        assert code == 0 and err == "", err
        assert out.startswith(f"backup: {target}") and "integrity ok" in out and out.count("\n") == 1
        # A restore while the bot runs is refused, in one line, and changes nothing.
        code, out2, err2 = await cli("restore", str(target), db_path=db_path)
        assert code == 2 and out2 == "" and err2.startswith("error: bot_running: ") and err2.count("\n") == 1
        await fake.idle()
        live = drafts_in(db_path)
    assert len(live) == PEOPLE

    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    saved = drafts_in(target)
    assert set(saved) == {u.id for u in users}  # everybody's draft is in the copy, at the step it had then
    assert {d["step"] for d in saved.values()} <= {"recipient_kind", "recipient_name"}

    code, out, err = await cli("restore", str(target), db_path=db_path)
    assert code == 0 and err == "" and out.startswith(f"restored: {db_path}"), err
    assert Path(f"{db_path}.pre-restore").exists()
    assert drafts_in(db_path) == saved

    async with running_bot(fake, db_path, clock=clock) as app:
        app.scheduler.pause()

        async def resume(user) -> None:
            user.skip_pending()
            await user.send("/complaint")
            await user.expect_text("продолжим", timeout=60)
            prompt = await user.expect(timeout=60, predicate=lambda m: m.keyboard_type == "inline")
            data = prompt.callback_data(prompt.buttons[0])
            assert data.startswith(f"cw:{saved[user.id]['token']}:"), data  # the backed-up draft, resumed

        await asyncio.gather(*(resume(u) for u in users))


async def test_backup_and_restore_errors_are_one_line(tmp_path, db_path):
    code, out, err = await cli("backup", str(tmp_path / "x.sqlite3"), db_path=tmp_path / "missing.sqlite3")
    assert code == 2 and err.startswith("error: not_found: ") and err.count("\n") == 1
    bogus = tmp_path / "bogus.sqlite3"
    bogus.write_text("not a database")
    code, out, err = await cli("restore", str(bogus), db_path=db_path, )
    assert code == 2 and err.startswith("error: not_a_database: ") and err.count("\n") == 1
    code, out, err = await cli("backup", db_path=db_path)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    code, out, err = await cli("restore", str(tmp_path / "none.sqlite3"), "--json", db_path=db_path)
    assert code == 2 and json.loads(out)["error"] == "not_found"
