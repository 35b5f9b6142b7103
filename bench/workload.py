"""What the e2e and hops benchmarks send: five kinds of update, each from people the database already knows.

    start   "/start" from someone with no conversation in progress
    faq     a question typed as free text (held-out queries of bench/faq_eval.jsonl, in the person's language)
    wizard  a typed answer to a wizard step (the description of the complaint; the next step is asked)
    button  a button of a wizard step (applicant kind: "individual"; the next step is asked)
    my      "/my" from someone with two saved complaints, both tracked (one open with its reminders, one
            answered)

Every kind has its own range of user ids, so a run can give each update a person of its own (many distinct
people, as in real traffic) and the database holds exactly the state the kind needs (``seed``). The mix
weights say how often each kind comes in the realistic mix: a complaint is ~20 wizard steps, half typed and
half buttons; questions are common; /start and /my less so.

Nothing here imports aiogram: the e2e benchmark's fake Bot API process uses it too.
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable

from bench import gen
from bot.domain.complaint import Complaint

KINDS = ("start", "faq", "wizard", "button", "my")
MIX = {"start": 1, "faq": 2, "wizard": 3, "button": 3, "my": 1}
BASE = {kind: 100_000_000 * (i + 1) for i, kind in enumerate(KINDS)}  # user ids of a kind: BASE[kind] + k
WIZARD_STATE = "ComplaintWizard:draft"  # handlers.complaint.states.ComplaintWizard.draft
TOKEN = "bench1"  # the wizard draft's token (handlers.complaint.flow.new_token: 6 characters)
PROMPT_N = 7  # the draft's prompt number: a button must carry it to be current
EVAL = Path(__file__).resolve().parent / "faq_eval.jsonl"


@dataclass(frozen=True)
class Action:
    """One update: a text message, or a press of ``data`` under the bot message ``prompt``/``markup``."""

    kind: str
    user_id: int
    text: str | None = None
    data: str | None = None
    prompt: str | None = None
    markup: dict | None = None

    @property
    def language(self) -> str:
        return gen.language_of(self.user_id)


def _questions() -> dict[str, list[str]]:
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {lang: [r["q"] for r in rows if r["lang"] == lang and r["id"] and r["split"] == "test"]
            for lang in ("kk", "ru")}


class Workload:
    """Builds the actions of each kind for given people (deterministic: the same person, the same update)."""

    def __init__(self) -> None:
        self.questions = _questions()

    def action(self, kind: str, user_id: int) -> Action:
        lang = gen.language_of(user_id)
        if kind == "start":
            return Action(kind, user_id, text="/start")
        if kind == "my":
            return Action(kind, user_id, text="/my")
        if kind == "faq":
            pool = self.questions[lang]
            return Action(kind, user_id, text=pool[user_id % len(pool)])
        if kind == "wizard":
            return Action(kind, user_id, text=gen.description(random.Random(user_id), lang, 2))
        if kind == "button":
            labels = {"kk": ("Жеке тұлға", "Заңды тұлға"), "ru": ("Физическое лицо", "Юридическое лицо")}[lang]
            row = [{"text": label, "callback_data": f"cw:{TOKEN}:{PROMPT_N}:ch:{value}"}
                   for label, value in zip(labels, ("individual", "legal_entity"), strict=True)]
            return Action(kind, user_id, data=row[0]["callback_data"], prompt="?",
                          markup={"inline_keyboard": [row]})
        raise ValueError(f"unknown kind {kind!r}")

    def schedule(self, kinds: dict[str, int], n: int, start: dict[str, int] | None = None) -> list[Action]:
        """``n`` actions mixed by the weights ``kinds`` (interleaved evenly), each from a new person of its
        kind; ``start`` (updated) says how many people of each kind earlier schedules used."""
        start = start if start is not None else {}
        total = sum(kinds.values())
        out: list[Action] = []
        credit = {k: 0.0 for k in kinds}
        for _ in range(n):
            for k in kinds:
                credit[k] += kinds[k] / total
            kind = max(credit, key=lambda k: credit[k])
            credit[kind] -= 1
            k = start.get(kind, 0)
            start[kind] = k + 1
            out.append(self.action(kind, BASE[kind] + k))
        return out


# ------------------------------------------------------------------------------------------- database


def wizard_data(kind: str, user_id: int, today) -> dict:
    """The FSM data of a wizard conversation (handlers.complaint.flow.Wiz.dump): the ``wizard`` people are
    at the description (everything before it answered), the ``button`` people at the applicant kind."""
    full = gen.make_complaint(random.Random(user_id), gen.language_of(user_id), today)
    if kind == "wizard":
        full.description = full.demands = None
        full.attachments = []
        draft, step = full, "description"
    else:
        draft = Complaint(grounds=full.grounds, recipient_kind=full.recipient_kind, recipient_name=full.recipient_name,
                          language=full.language, consent=True, created=today)
        step = "applicant_kind"
    return {"token": TOKEN, "n": PROMPT_N, "step": step, "editing": False, "draft": draft.to_dict()}


def seed(path: Path | str, people: dict[str, int], *, bot_id: int, now: datetime) -> dict:
    """A new database (schema by storage.db) holding ``people[kind]`` people of each kind:
    users with their language chosen, wizard conversations, and for ``my`` two tracked complaints each.
    ``bot_id`` keys the FSM rows (the token's number)."""
    gen.create_schema(path)
    conn = gen.connect_bulk(path)
    try:
        others = itertools.chain.from_iterable(
            range(BASE[kind], BASE[kind] + n) for kind, n in people.items() if kind != "my")
        gen.insert(conn, "users", gen.USER_COLUMNS, gen.user_rows(others, now))
        today = now.astimezone(gen.TZ).date()
        stamp = gen.iso(now)
        fsm = ((gen.fsm_key(bot_id, uid), uid, WIZARD_STATE,
                json.dumps(wizard_data(kind, uid, today), ensure_ascii=False, separators=(",", ":")), stamp)
               for kind in ("wizard", "button") for uid in range(BASE[kind], BASE[kind] + people.get(kind, 0)))
        gen.insert(conn, "fsm", gen.FSM_COLUMNS, fsm)
        n_my = people.get("my", 0)
        counts = {}
        if n_my:
            my = range(BASE["my"], BASE["my"] + n_my)
            # two complaints each, both tracked: one open (recent, reminders pending), one answered
            spec = gen.Spec(users=n_my, complaints=2 * n_my, cases=2 * n_my, reminders=10 * n_my, open_share=0.5,
                            days=90, open_days=20, due_wave=0)  # nothing due: the bot sends no reminder meanwhile
            counts = gen.populate(conn, spec, now, user_ids=my, owner=lambda j: my[j % n_my], seed=14)
    finally:
        gen.finish_bulk(conn)
    return {"people": dict(people), **counts}


#: The step a wizard conversation is on once its update was handled (the check that the bot did the work).
NEXT_STEP = {"wizard": "demands", "button": "surname"}


def unfinished(path: Path | str, actions: Iterable[Action], *, bot_id: int) -> list[int]:
    """The wizard and button people among ``actions`` whose conversation did not move to ``NEXT_STEP``."""
    import sqlite3

    conn = sqlite3.connect(str(path))
    try:
        stuck = []
        for a in actions:
            if a.kind in NEXT_STEP:
                row = conn.execute("SELECT data FROM fsm WHERE key = ?", (gen.fsm_key(bot_id, a.user_id),)).fetchone()
                if row is None or json.loads(row[0]).get("step") != NEXT_STEP[a.kind]:
                    stuck.append(a.user_id)
        return stuck
    finally:
        conn.close()


def people_needed(actions: Iterable[Action]) -> dict[str, int]:
    """How many people of each kind these actions use (ids are dense from each kind's base)."""
    need: dict[str, int] = {}
    for a in actions:
        need[a.kind] = max(need.get(a.kind, 0), a.user_id - BASE[a.kind] + 1)
    return need


# ------------------------------------------------------------------------------------------- updates


def update_payload(action: Action, update_id: int, *, bot_id: int, date: int) -> dict:
    """The Bot API JSON of the update (as the fake Bot API builds it), for feeding a dispatcher directly."""
    uid = action.user_id
    user = {"id": uid, "is_bot": False, "first_name": gen.FIRST_NAMES[uid % len(gen.FIRST_NAMES)],
            "language_code": action.language}
    chat = {"id": uid, "type": "private", "first_name": user["first_name"]}
    if action.text is not None:
        message: dict = {"message_id": update_id, "from": user, "chat": chat, "date": date, "text": action.text}
        if action.text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(action.text.split()[0])}]
        return {"update_id": update_id, "message": message}
    bot_user = {"id": bot_id, "is_bot": True, "first_name": "Shagym", "username": "shagym_bench_bot"}
    shown = {"message_id": update_id, "from": bot_user, "chat": chat, "date": date, "text": action.prompt,
             "reply_markup": action.markup}
    return {"update_id": update_id, "callback_query": {
        "id": str(4_000_000_000 + update_id), "from": user, "chat_instance": str(8_000_000_000 + uid),
        "message": shown, "data": action.data}}
