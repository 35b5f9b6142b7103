"""`python -m bot deadline|workdays`: subprocess runs, JSON equal to the engine, no aiogram, fast."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.domain.deadlines import compute, registration_date
from bot.domain.workdays import default_calendar
from bot.legal_cli import main

ROOT = Path(__file__).resolve().parents[1]
CAL = default_calendar()


def run(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    return proc, time.perf_counter() - start


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        (["--recipient", "provider", "--registered", "2025-11-17"], {}, {"review_due": "2025-11-24", "provisional": False}),
        (
            ["--recipient", "provider", "--registered", "2026-12-14", "--extended-by", "5"],
            {"extended_by": 5},
            {"review_due": "2026-12-29", "extension_notice_due": "2026-12-25", "escalate_from": "2026-12-30"},
        ),
        (
            ["--recipient", "quality_authority", "--registered", "2026-12-14"],
            {},
            {"review_due": "2027-01-08", "provisional": True},
        ),
        (
            ["--recipient", "quality_authority", "--registered", "2025-12-12", "--extended-by", "3",
             "--extended-on", "2025-12-15", "--learned", "2025-11-30", "--forwarded"],
            {"extended_by": 3, "extended_on": date(2025, 12, 15), "learned_on": date(2025, 11, 30),
             "forwarded_via_provider": True},
            {"forwarding_due": "2025-12-18", "filing_limit": "2026-03-02"}  # Dec 16 off,
        ),
    ],
)
def test_deadline_json_matches_engine(args: list[str], kwargs: dict, expected: dict) -> None:
    proc, seconds = run("deadline", *args, "--json")
    print(f"deadline {' '.join(args)}: {seconds * 1000:.0f} ms")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    registered = date.fromisoformat(args[args.index("--registered") + 1])
    assert data == compute(args[1], registered, CAL, **kwargs).to_dict()
    for key, value in expected.items():
        assert data[key] == value
    assert seconds < 2


def test_submitted_after_hours() -> None:
    proc, _ = run("deadline", "--recipient", "provider", "--registered", "2026-12-14",
                  "--submitted", "2026-12-14T19:30", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    registered = registration_date(datetime(2026, 12, 14, 19, 30, tzinfo=ZoneInfo("Asia/Almaty")), CAL)
    assert data["registered"] == registered.isoformat() == "2026-12-15"
    assert data["registered_given"] == "2026-12-14"
    assert data["review_due"] == "2026-12-23"  # Dec 16 holiday: 17, 18, 21, 22, 23


def test_workdays_json() -> None:
    proc, seconds = run("workdays", "2026", "--json")
    print(f"workdays 2026: {seconds * 1000:.0f} ms")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["provisional"] is False and data["verified"] is True
    assert [(r["day"], r["reason"]) for r in data["non_working_weekdays"]] == [
        (d.isoformat(), r) for d, r in CAL.non_working_weekdays(2026)
    ]
    assert data["working_weekend_days"] == []
    proc, _ = run("workdays", "2027", "--json")
    assert json.loads(proc.stdout)["provisional"] is True
    proc, _ = run("workdays", "2024", "--json")
    assert json.loads(proc.stdout)["working_weekend_days"] == [{"day": "2024-05-04", "weekday": "sat", "reason": "transfer"}]


def test_no_aiogram_and_fast() -> None:
    code = (
        "import sys, time; t = time.perf_counter(); from bot.__main__ import main; "
        "rc = main(['deadline', '--recipient', 'quality_authority', '--registered', '2026-12-14', '--json']); "
        "rc2 = main(['workdays', '2026']); "
        "assert rc == rc2 == 0; assert 'aiogram' not in sys.modules, 'aiogram imported'; "
        "print('elapsed', time.perf_counter() - t, file=sys.stderr)"
    )
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30)
    wall = time.perf_counter() - start
    print(f"CLI wall time incl. interpreter start: {wall * 1000:.0f} ms; {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    assert wall < 2


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["deadline", "--recipient", "provider", "--registered", "2026-12-14", "--extended-by", "11"], "extension_out_of_range"),
        (["deadline", "--recipient", "provider", "--registered", "14.12.2026"], "bad date"),
        (["deadline", "--recipient", "court", "--registered", "2026-12-14"], "invalid choice"),
        (["deadline", "--recipient", "provider"], "--registered or --submitted"),
        (["deadline", "--recipient", "provider", "--submitted", "yesterday"], "bad date-time"),
        (["workdays", "20x6"], "bad year"),
        (["workdays"], "required"),
    ],
)
def test_bad_input(args: list[str], fragment: str) -> None:
    proc, _ = run(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and lines[0].startswith("error: ")


def test_text_output_in_process(capsys) -> None:
    assert main(["deadline", "--recipient", "provider", "--registered", "2026-12-14", "--extended-by", "5",
                 "--learned", "2026-10-01"]) == 0
    out = capsys.readouterr().out
    assert "2026-12-29  review_due" in out and "extension_max_10" in out and "appk_92_filing_limit" in out
    assert main(["workdays", "2025"]) == 0
    out = capsys.readouterr().out
    assert "2025-01-05 sun  transfer" in out and "2025-06-06 fri  kurban_ait" in out
    assert main(["workdays", "2027"]) == 0
    assert "provisional" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answered", "court", "further"),
    [
        ("2026-10-28", "2026-11-30", "2027-01-28"),  # court ends on Saturday 28.11 -> Monday
        ("2026-11-16", "2026-12-17", "2027-02-16"),  # court ends on 16 December, a holiday
        ("2026-02-23", "2026-03-26", "2026-05-25"),  # court ends inside Nauryz
        ("2026-01-31", "2026-03-02", "2026-04-30"),  # 31 January + 1 month -> 28 February (Sat) -> 2 March
    ],
)
def test_deadline_answered_gives_court_and_further_complaint(answered: str, court: str, further: str) -> None:
    proc, _ = run("deadline", "--recipient", "provider", "--registered", "2026-01-05", "--answered", answered,
                  "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data == compute("provider", date(2026, 1, 5), CAL, answered_on=date.fromisoformat(answered)).to_dict()
    assert data["answered"] == answered
    assert data["court_until"]["day"] == court and data["court_until"]["from"] == answered
    assert data["further_complaint_until"]["day"] == further
    assert data["court_until"]["provisional"] is False
    assert data["further_complaint_until"]["provisional"] is (further.startswith("2027"))


def test_deadline_answered_text_and_errors(capsys) -> None:
    assert main(["deadline", "--recipient", "provider", "--registered", "2026-01-05", "--answered", "2026-10-28"]) == 0
    out = capsys.readouterr().out
    assert "2026-11-30  court_until" in out and "appk_136_court_limit" in out
    assert "2027-01-28  further_complaint_until" in out and "provisional" in out
    proc, _ = run("deadline", "--recipient", "provider", "--registered", "2026-12-14", "--answered", "2026-12-01")
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: answered_before_registration")
    proc, _ = run("deadline", "--recipient", "provider", "--registered", "2026-12-14", "--answered", "01.12.2026")
    assert proc.returncode == 2 and "bad date" in proc.stderr


def test_handed_in_after_hours_on_the_last_day_is_in_time() -> None:
    """The day it was handed in meets the 3-month limit, though the complaint is registered the next day."""
    proc, _ = run("deadline", "--recipient", "provider", "--submitted", "2026-06-16T19:00",
                  "--learned", "2026-03-16", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["registered"], data["filing_limit"], data["filing_limit_missed"]) == ("2026-06-17", "2026-06-16", False)
