"""The hot path stays on the event loop (issue 14, point 1).

aiogram runs every synchronous filter or handler (``CallableObject.call``), magic filters included, through
``asyncio.to_thread``: a thread hop per check on every update that reaches it (docs/performance.md). Two
checks here:

* the router tree of the bot's own dispatcher holds no synchronous callable at all (a structural check that
  names the culprit: router, event, handler);
* one update of each common kind, fed to the bot's own dispatcher (``bench.hops.count_hops``: create_app, a
  seeded SQLite file, every middleware), makes no executor submission and at most its budget of database
  hops (aiosqlite's worker thread).
"""

from __future__ import annotations

import pytest
from aiogram import Router
from aiogram.dispatcher.event.handler import CallableObject

from bench.hops import _magic, count_hops
from bot.app import create_app
from bot.config import load_settings

#: aiosqlite hops one update of each kind may make. Small indexed reads (the person's user record, cases,
#: saved complaints) run on the event loop through ``Database.lookup``; FSM writes are group-committed on the
#: loop (storage/fsm.py). On main before issue 14: start 3, faq 11+1, wizard 6, button 2, my 8+2.
DB_HOPS = {"start": 0, "faq": 0, "wizard": 0, "button": 0, "my": 0}


def _describe(obj: CallableObject) -> str:
    magic = getattr(obj, "magic", None)
    return f"magic filter {_magic(magic)}" if magic is not None else repr(obj.callback)


def _sync_callables(router: Router, path: str = "") -> list[str]:
    found: list[str] = []
    where = f"{path}/{router.name}"
    for event, observer in router.observers.items():
        checks: list[tuple[str, CallableObject]] = [("router filter", f) for f in observer._handler.filters or ()]
        for handler in observer.handlers:
            name = getattr(handler.callback, "__qualname__", repr(handler.callback))
            checks.append((f"handler {name}", handler))
            checks += [(f"filter of {name}", f) for f in handler.filters or ()]
        found += [f"{where} {event}: {what}: {_describe(obj)}" for what, obj in checks if not obj.awaitable]
    for sub in router.sub_routers:
        found += _sync_callables(sub, where)
    return found


async def test_no_synchronous_filter_or_handler_in_the_router_tree(tmp_path):
    settings = load_settings(_env_file=None, bot_token="", database_path=tmp_path / "t.sqlite3",
                             operators_chat_id=-100123)  # with a desk: every router is there
    app = await create_app(settings)
    try:
        assert _sync_callables(app.dp) == []
    finally:
        await app.close()


async def test_the_bot_s_per_update_work_is_one_outer_middleware(tmp_path):
    """aiogram builds a chain of partials and copies the keyword dict for every outer middleware of every
    update (and again for the message or callback query inside it): the bot's own per-update jobs (user,
    desk, language, gate, reply guard, unknown commands, unanswered buttons) are one middleware, which also does
    the jobs of aiogram's ErrorsMiddleware, UserContextMiddleware and FSMContextMiddleware (tests/test_inbound.py),
    and the events inside an update have none (the errors observer has the language, for the error handler)."""
    from handlers.middlewares import Inbound

    app = await create_app(load_settings(_env_file=None, bot_token="", database_path=tmp_path / "t.sqlite3"))
    try:
        kinds = [type(m) for m in app.dp.update.outer_middleware]
        assert kinds == [Inbound]
        inside = {name: list(o.outer_middleware) for name, o in app.dp.observers.items()
                  if name not in ("update", "error") and o.outer_middleware}
        assert inside == {}
    finally:
        await app.close()


@pytest.mark.parametrize("warm_users", [True, False], ids=["in-conversation", "first-update"])
async def test_common_updates_make_no_executor_submission(tmp_path, warm_users):
    hops = await count_hops(samples=2, folder=tmp_path, warm_users=warm_users)
    assert set(hops) == set(DB_HOPS)
    for kind, h in hops.items():
        assert h.to_thread + h.executor == 0, (kind, dict(h.what))
        assert h.aiosqlite <= DB_HOPS[kind], (kind, dict(h.what))


async def test_lookup_reads_on_the_loop_and_sees_every_commit(tmp_path):
    """``Database.lookup`` (a second, plain sqlite3 connection) sees what the aiosqlite connection committed,
    never what an open transaction has not, and does not wait for the writer."""
    from storage.db import Database

    db = await Database.open(tmp_path / "l.sqlite3")
    try:
        await db.execute("INSERT INTO users (id, language, created_at, updated_at) VALUES (1, 'kk', 'x', 'x')")
        assert [r["language"] for r in await db.lookup("SELECT language FROM users WHERE id = ?", (1,))] == ["kk"]
        async with db.transaction() as conn:
            await conn.execute("UPDATE users SET language = 'ru' WHERE id = 1")
            row = await db.lookup_one("SELECT language FROM users WHERE id = ?", (1,))
            assert row is not None and row["language"] == "kk"  # the writer has not committed yet
        row = await db.lookup_one("SELECT language FROM users WHERE id = ?", (1,))
        assert row is not None and row["language"] == "ru"
    finally:
        await db.close()


def test_the_main_menu_is_built_once_per_language_and_desk():
    """Most replies carry the main menu: a keyboard of pydantic objects, built once per language and desk."""
    from bot.services.i18n import build_i18n
    from handlers.common import desk_available, main_menu

    i18n = build_i18n()
    menus = {}
    with i18n.context():
        for lang in ("kk", "ru"):
            for desk in (False, True):
                with i18n.use_locale(lang), desk_available(desk):
                    menus[lang, desk] = main_menu()
                    assert main_menu() is menus[lang, desk]
    labels = {key: [b.text for row in m.keyboard for b in row] for key, m in menus.items()}
    assert labels["kk", False] != labels["ru", False]
    assert len(labels["ru", True]) == len(labels["ru", False]) + 1  # "talk to a person" with a desk
    assert labels["ru", True][0] == i18n.gettext("📝 Write a complaint", locale="ru")


async def test_a_wizard_button_is_unpacked_once_for_the_wizard_s_handlers(monkeypatch, tmp_path):
    """A choice was unpacked (a pydantic model) by every handler aiogram tried: ten times. The wizard's router
    unpacks it once (FreshButton) and its handlers read that; the wizard router's label handler (before the
    freshness check) is the one other unpack."""
    from handlers.complaint.callbacks import WizCb

    unpacked: list[str] = []
    original = WizCb.unpack.__func__

    def counting(cls, value):
        unpacked.append(value)
        return original(cls, value)

    monkeypatch.setattr(WizCb, "unpack", classmethod(counting))
    await count_hops(("button",), samples=1, folder=tmp_path)  # two presses: a warm-up and the sample
    assert len(unpacked) <= 2 * 2, unpacked


async def test_a_wizard_step_calls_only_the_filters_that_load_the_draft(monkeypatch, tmp_path):
    """The filters of the wizard's handlers that their quick checks decide (On, AtStep, Damaged, StaysInWizard,
    and the label's action) are not called through aiogram's CallableObject (~3 µs a call): a choice press
    called fifteen filters, a typed answer three. What is left is what reads the conversation: FreshButton
    and LiveDraft for a press, LiveDraft for an answer."""
    from aiogram.dispatcher.event.handler import FilterObject

    called: list[str] = []
    original = CallableObject.call

    async def counting(self, *args, **kwargs):
        if isinstance(self, FilterObject):
            called.append(type(self.callback).__name__)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(CallableObject, "call", counting)
    await count_hops(("button", "wizard"), samples=1, folder=tmp_path)  # two of each: a warm-up and the sample
    assert called == ["FreshButton", "LiveDraft"] * 2 + ["LiveDraft"] * 2


def test_each_wizard_step_button_handler_takes_one_action_of_its_own():
    """The steps router's handlers are ordered by how often their presses come: that is only safe while each
    has one ``On`` of its own (no press could match two of them)."""
    from handlers.complaint.buttons import On, get_router

    steps = next(r for r in get_router().chain_tail if r.name == "complaint.steps")
    actions = []
    for handler in steps.callback_query.handlers:
        ons = [f.callback for f in handler.filters or () if isinstance(f.callback, On)]
        assert len(ons) == 1, handler.callback
        actions += list(ons[0].actions)
    assert len(actions) == len(set(actions)) == len(steps.callback_query.handlers)


async def test_the_wizard_s_decided_filters_accept_exactly_when_their_quick_checks_pass():
    """On, AtStep and Damaged read what the routers' own filters gave (not in tests/test_routing.py's corpus):
    each accepts exactly when its quick check passes, and without that data its quick check cannot tell."""
    from aiogram.dispatcher.event.handler import FilterObject

    from handlers.complaint.buttons import AtStep, Damaged, On
    from handlers.complaint.callbacks import WizAction, WizCb
    from handlers.complaint.flow import Wiz, WizardDraft
    from handlers.complaint.steps import REVIEW
    from handlers.routing import decided_by_quick_check

    live = Wiz.load({"token": "t", "n": 1, "step": "grounds", "draft": {"consent": True}})
    damaged = Wiz.load({"token": "t", "n": 1, "step": "nowhere", "draft": {"consent": True}})
    assert live.live and not damaged.live
    filters = [On(WizAction.CHOICE), On(WizAction.BACK, WizAction.SKIP), AtStep("grounds"), AtStep(REVIEW),
               Damaged()]
    seen = set()
    for f in filters:
        assert decided_by_quick_check(FilterObject(f))
        with pytest.raises(KeyError):
            f.quick(None, {})
        for action in WizAction:
            for w in (live, damaged):
                assert w.draft is not None and w.step is not None
                data = {"callback_data": WizCb(t="t", n=1, a=action), "w": w,
                        "wd": WizardDraft(w, w.draft, w.step)}
                accepted = await FilterObject(f).call(None, **data)
                assert accepted is f.quick(None, data)
                seen.add((type(f).__name__, accepted))
    assert len(seen) == 6  # each filter both accepted and refused


def test_tracking_dates_are_formatted_once_per_day_and_language():
    """/my shows several dates per case, mostly the same few days: Babel (~40 µs a date) runs once for each."""
    from datetime import date

    from handlers.tracking.render import fmt

    fmt.cache_clear()
    assert fmt(date(2026, 12, 2), "ru") == fmt(date(2026, 12, 2), "ru") != fmt(date(2026, 12, 2), "kk")
    assert fmt.cache_info().hits == 1 and fmt.cache_info().misses == 2
