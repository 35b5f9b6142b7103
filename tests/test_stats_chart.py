"""The /stats chart (issue 16): through the fake Bot API the operators get, after the figures, a PNG of the
expected size labelled in their language (kk and ru), drawn in a worker thread (never on the event loop);
the weekly series and the rating distribution it is drawn from are checked as plain functions."""

from __future__ import annotations

import io
import threading
from datetime import date, datetime, timedelta, timezone

import pytest

from bot.domain.clock import FakeClock
from bot.domain.desk import TicketFacts, WeekRow, rating_counts, weekly
from bot.domain.workdays import default_calendar
from tests.backends import running_bot
from tests.test_operators import GROUP, OP

pytestmark = pytest.mark.usefixtures("both_backends")  # on SQLite and on PostgreSQL

# Wednesday 10 June 2026, 10:00 in Almaty: the chart's last week starts on Monday 8 June.
NOW = datetime(2026, 6, 10, 5, 0, tzinfo=timezone.utc)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


# (Monday the ticket was opened, how it ended, days after, rating): 11 resolved (9 within the 5 working days,
# 2 after 14 days), 2 rejected, 2 open; 5 ratings.
SEED = [
    (date(2026, 5, 11), "resolved", 2, 5), (date(2026, 5, 11), "resolved", 2, None),
    (date(2026, 5, 11), "resolved", 14, 2), (date(2026, 5, 11), "rejected", 1, None),
    (date(2026, 5, 18), "resolved", 2, 5), (date(2026, 5, 18), "resolved", 2, 4),
    (date(2026, 5, 18), "resolved", 2, None),
    (date(2026, 5, 25), "resolved", 2, None), (date(2026, 5, 25), "resolved", 14, 1),
    (date(2026, 6, 1), "resolved", 2, None), (date(2026, 6, 1), "resolved", 2, None),
    (date(2026, 6, 1), "rejected", 1, None),
    (date(2026, 6, 8), "resolved", 2, None), (date(2026, 6, 8), "new", None, None),
    (date(2026, 6, 8), "new", None, None),
]


async def seed_desk(app) -> None:
    tickets = app.repos.tickets
    for uid, (monday, status, after, rating) in enumerate(SEED, start=5001):
        opened = datetime.combine(monday, NOW.time(), tzinfo=timezone.utc)
        await app.repos.users.seen(uid, f"U{uid}", "ru")
        t, _created = await tickets.open_or_create(uid, language="ru", source="menu", complaint_id=None,
                                                   chat_id=GROUP, at=opened)
        if after is not None:
            closed = opened + timedelta(days=after)
            await tickets.transition(t.id, actor_id=OP, action="resolve", allowed=("new",), at=closed,
                                     status=status, resolved_at=closed, result="—", relay=False, rating=rating)


@pytest.mark.parametrize("language, title, panels", [
    ("ru", "Статистика операторов", ("Обращения по неделям", "Решено в срок, % (за все недели: 82%)",
                                     "Оценки граждан (всего: 5)")),
    ("kk", "Операторлар статистикасы", ("Апта бойынша өтінімдер", "Мерзімінде шешілгені, % (барлық апталар бойынша: 82%)",
                                        "Азаматтардың бағалары (барлығы: 5)")),
], ids=["ru", "kk"])
async def test_stats_answers_with_a_png_chart_in_the_operators_language(fake, db_path, no_unhandled, tmp_path,
                                                                        monkeypatch, language, title, panels):
    from matplotlib.figure import Figure

    from bot.domain.desk_chart import HEIGHT, WIDTH

    drawn_in: list[threading.Thread] = []
    original_savefig = Figure.savefig

    def savefig(fig, *args, **kwargs):  # a spy: records where the chart is drawn, then draws it
        drawn_in.append(threading.current_thread())
        return original_savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    group = fake.group(GROUP, "Desk", is_forum=True).set_member(OP, "member")
    op = fake.user(OP, "Operator", language_code="ru")
    async with running_bot(fake, db_path, clock=FakeClock(NOW), operators_chat_id=GROUP,
                           operators_language=language) as app:
        await seed_desk(app)
        await op.send("/stats", chat=GROUP)
        figures = await op.expect(chat=GROUP, timeout=30)
        chart = await op.expect(chat=GROUP, timeout=60)  # drawn in a worker thread: a moment later
        await fake.idle()
        assert group.messages[-2:] == [figures, chart]

    assert figures.kind == "text" and "📊" in figures.text
    assert chart.kind == "photo" and chart.content
    assert png_size(chart.content) == (WIDTH, HEIGHT)
    from PIL import Image

    image = Image.open(io.BytesIO(chart.content))
    image.verify()  # chunks and checksums
    image = Image.open(io.BytesIO(chart.content)).convert("RGB")
    assert image.size == (WIDTH, HEIGHT) and len(image.getcolors(WIDTH * HEIGHT) or []) > 20  # not a blank page
    (tmp_path / f"stats-{language}.png").write_bytes(chart.content)  # for a person to look at (pytest --basetemp)
    assert drawn_in and all(t is not threading.main_thread() for t in drawn_in)  # off the event loop
    labels = Image.open(io.BytesIO(chart.content)).text  # the titles, also in the PNG's text chunks
    assert labels["Title"].startswith(title) and "10.06.2026" in labels["Title"]
    assert all(word in labels["Description"] for word in panels), labels


def test_weekly_series_and_rating_counts():
    cal = default_calendar()
    today = date(2026, 6, 10)  # Wednesday
    facts = [
        TicketFacts(status="resolved", opened_on=date(2026, 6, 1), closed_on=date(2026, 6, 3), review_due=None,
                    rating=5, disagreed=False),
        TicketFacts(status="resolved", opened_on=date(2026, 5, 4), closed_on=date(2026, 6, 2), review_due=None,
                    rating=1, disagreed=False),
        TicketFacts(status="rejected", opened_on=date(2026, 6, 9), closed_on=date(2026, 6, 9), review_due=None,
                    rating=None, disagreed=False),
        TicketFacts(status="new", opened_on=date(2026, 6, 8), closed_on=None, review_due=None, rating=None,
                    disagreed=False),
        TicketFacts(status="resolved", opened_on=date(2025, 1, 6), closed_on=date(2025, 1, 7), review_due=None,
                    rating=4, disagreed=False),  # long before the chart's weeks
    ]
    rows = weekly(facts, today, cal, weeks=3)
    assert rows == [
        WeekRow(date(2026, 5, 25), opened=0, resolved=0, in_time=0),
        WeekRow(date(2026, 6, 1), opened=1, resolved=2, in_time=1),
        WeekRow(date(2026, 6, 8), opened=2, resolved=0, in_time=0),
    ]
    assert rating_counts(facts) == {1: 1, 2: 0, 3: 0, 4: 1, 5: 1}
