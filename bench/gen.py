"""Realistic rows for the benchmarks' databases, written fast.

The schema always comes from storage/migrations, applied by ``storage.db.Database`` (``create_schema``); the
rows are then written with plain sqlite3 ``executemany`` in big transactions (no aiosqlite hop per row). This
module is the ONE place that knows how the bot stores its rows (complaints as ``Complaint.pack()``,
cases, reminders as ``RemindersRepo.replace_plan`` writes them, FSM rows as ``storage.fsm`` keys them): when
the storage changes, change it here and every benchmark follows.

Values are realistic: Kazakh and Russian names, valid IINs, Kazakh addresses and services, descriptions of a
few sentences (a complaint's JSON is ~2.2 KB, as the wizard produces), reminder plans from the real
``bot.domain.reminders.plan_case`` on the real working-day calendar. A complaint's JSON comes from a per-language pool
of templates with per-row IIN, phone and dates, packed row by row (~60 µs a row: each row is deflated on its own,
as the bot stores it, so the pool does not make it smaller). 1M complaints, 1M cases, 600k reminders: a few
minutes, ~2.5 GB.

Nothing here imports aiogram (the e2e benchmark's fake Bot API process stays lean).
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence
from zoneinfo import ZoneInfo

from bot.domain.complaint import Attachment, Complaint, complaint_number, pack_fields
from bot.domain.identifiers import check_digit

TZ = ZoneInfo("Asia/Almaty")
CHUNK = 20_000  # rows per executemany

# --------------------------------------------------------------------------------------------- schema


async def create_schema_async(path: Path | str) -> None:
    """An empty database file with the bot's schema (storage.db applies storage/migrations)."""
    from storage.db import Database

    db = await Database.open(path)
    await db.close()


def create_schema(path: Path | str) -> None:
    """The same, from sync code, also when an event loop runs in this thread (done in a thread of its own)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, create_schema_async(path)).result()


def connect_bulk(path: Path | str) -> sqlite3.Connection:
    """A plain sqlite3 connection for bulk loading: no journal and no fsync while loading (the file is thrown
    away if the load fails), a big page cache. ``finish_bulk`` puts the file back in WAL mode (the bot's)."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")  # 256 MiB
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


def finish_bulk(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()


def secondary_indexes(conn: sqlite3.Connection, tables: Iterable[str]) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the droppable indexes of these tables (not the UNIQUE-constraint ones)."""
    marks = ",".join("?" * len(list(tables := tuple(tables))))
    return conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",
        tables,
    ).fetchall()


def insert(conn: sqlite3.Connection, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """executemany in chunks, one transaction per chunk; returns the number of rows."""
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    n = 0
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            conn.execute("BEGIN")
            conn.executemany(sql, chunk)
            conn.execute("COMMIT")
            n += len(chunk)
            chunk = []
    if chunk:
        conn.execute("BEGIN")
        conn.executemany(sql, chunk)
        conn.execute("COMMIT")
        n += len(chunk)
    return n


def iso(moment: datetime) -> str:
    """As storage.db.iso: UTC ISO-8601 to the second."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def local_stamp(day: date, hour: int, minute: int = 0) -> str:
    """iso() of ``hour:minute`` Almaty time on ``day`` (UTC+5, hour >= 5), without a datetime per row."""
    return f"{day.isoformat()}T{hour - 5:02d}:{minute:02d}:00+00:00"


# --------------------------------------------------------------------------------------------- values

RU_SURNAMES = ("Иванов", "Ахметов", "Петров", "Сулейменов", "Ким", "Смирнов", "Нургалиев", "Кузнецов", "Жумабаев",
               "Попов", "Исмаилов", "Васильев", "Омаров", "Павлов", "Тлеубаев", "Соколов", "Бекмуханов", "Лебедев")
KK_SURNAMES = ("Әбдірахманов", "Жақсылықов", "Серікбаев", "Нұрланов", "Қасымов", "Төлеуов", "Мұратов", "Байжанов",
               "Өмірзақов", "Ермекбаев", "Сейітов", "Құдайбергенов", "Тоқтаров", "Әлиев", "Бекболатов", "Оспанов")
FIRST_NAMES = ("Айгерим", "Данияр", "Алия", "Ерлан", "Сауле", "Асхат", "Мадина", "Нурлан", "Гульнара", "Тимур",
               "Дина", "Бауыржан", "Жанар", "Арман", "Елена", "Сергей", "Ольга", "Марат", "Әсел", "Нұрсұлтан")
PATRONYMICS = ("Серикович", "Болатович", "Нурланович", "Ерланович", "Сергеевич", "Маратович", "Қайратұлы",
               "Бақытұлы", "Асқарқызы", "Ерланқызы", None, None)
CITIES = (("г. Алматы", "Алматы қ."), ("г. Астана", "Астана қ."), ("г. Шымкент", "Шымкент қ."),
          ("г. Караганда", "Қарағанды қ."), ("г. Актобе", "Ақтөбе қ."), ("г. Павлодар", "Павлодар қ."),
          ("г. Усть-Каменогорск", "Өскемен қ."), ("г. Кызылорда", "Қызылорда қ."), ("г. Тараз", "Тараз қ."))
STREETS = ("Абая", "Назарбаева", "Сатпаева", "Толе би", "Жибек жолы", "Республики", "Кабанбай батыра",
           "Байтурсынова", "Гагарина", "Момышулы", "Достык", "Ауэзова")
SERVICES = {
    "ru": ("Регистрация по месту жительства", "Выдача справки о несудимости", "Назначение пособия по рождению ребенка",
           "Выдача удостоверения личности", "Постановка на очередь в детский сад", "Регистрация транспортного средства",
           "Выдача технического паспорта", "Назначение пенсионных выплат по возрасту", "Выдача справки о составе семьи",
           "Государственная регистрация прав на недвижимое имущество"),
    "kk": ("Тұрғылықты жері бойынша тіркеу", "Сотталмағандығы туралы анықтама беру", "Бала тууына байланысты жәрдемақы тағайындау",
           "Жеке куәлік беру", "Балабақшаға кезекке қою", "Көлік құралын тіркеу", "Техникалық паспорт беру",
           "Жасына байланысты зейнетақы төлемдерін тағайындау", "Отбасы құрамы туралы анықтама беру",
           "Жылжымайтын мүлікке құқықтарды мемлекеттік тіркеу"),
}
ORGANISATIONS = {
    "ru": ("НАО «Государственная корпорация «Правительство для граждан», ЦОН № {n}",
           "Управление образования акимата, отдел № {n}", "ГУ «Отдел занятости и социальных программ» района № {n}",
           "Департамент юстиции, регистрационный отдел № {n}"),
    "kk": ("«Азаматтарға арналған үкімет» мемлекеттік корпорациясы» КЕАҚ, ХҚКО № {n}",
           "Әкімдіктің білім басқармасы, № {n} бөлім", "Аудандық жұмыспен қамту және әлеуметтік бағдарламалар бөлімі № {n}",
           "Әділет департаменті, № {n} тіркеу бөлімі"),
}
DESCRIPTION = {
    "ru": ("Я подал заявление на оказание услуги через ЦОН и получил расписку о приеме документов.",
           "В установленный стандартом срок услуга оказана не была, результат мне не выдан.",
           "При повторном обращении сотрудник потребовал документы, которые стандартом услуги не предусмотрены.",
           "Сотрудник разговаривал грубо, отказался назвать свою фамилию и не объяснил причину отказа.",
           "Письменный мотивированный отказ мне не выдали, устно сказали прийти через месяц.",
           "Из-за задержки я не смог вовремя оформить пособие и понес расходы на дорогу и нотариуса.",
           "Я обращался по телефону 1414, мне посоветовали подать жалобу руководителю услугодателя.",
           "Прошу учесть, что я трижды приходил в отделение и каждый раз стоял в очереди по несколько часов."),
    "kk": ("Мен ХҚКО арқылы қызмет көрсетуге өтініш беріп, құжаттарды қабылдағаны туралы қолхат алдым.",
           "Стандартта белгіленген мерзімде қызмет көрсетілмеді, нәтижесі маған берілмеді.",
           "Қайта барғанымда қызметкер қызмет стандартында көзделмеген құжаттарды талап етті.",
           "Қызметкер дөрекі сөйлеп, тегін айтудан бас тартты және бас тарту себебін түсіндірмеді.",
           "Маған жазбаша дәлелді бас тарту берілмеді, ауызша бір айдан кейін келуді айтты.",
           "Кешіктіруге байланысты жәрдемақыны уақытында ресімдей алмадым, жол мен нотариусқа шығын шектім.",
           "Мен 1414 нөміріне хабарластым, маған қызмет берушінің басшысына шағым беруге кеңес берді.",
           "Бөлімшеге үш рет барып, әр жолы бірнеше сағат кезекте тұрғанымды ескеруіңізді сұраймын."),
}
DEMANDS = {
    "ru": ("Прошу оказать услугу в полном объеме и выдать результат в течение пяти рабочих дней.",
           "Прошу провести проверку действий сотрудника и привлечь его к дисциплинарной ответственности.",
           "Прошу дать письменный ответ по существу жалобы по указанному адресу."),
    "kk": ("Қызметті толық көлемде көрсетіп, нәтижесін бес жұмыс күні ішінде беруді сұраймын.",
           "Қызметкердің әрекеттерін тексеріп, оны тәртіптік жауапкершілікке тартуды сұраймын.",
           "Шағымның мәні бойынша көрсетілген мекенжайға жазбаша жауап беруді сұраймын."),
}
GROUND_IDS = ("deadline_violated", "unjustified_refusal", "extra_documents", "ethics", "incomplete_service")
RECIPIENTS = ("provider", "provider", "quality_authority", "akim")
RECIPIENT_NAMES = {"provider": "Руководителю ЦОН № {n}", "quality_authority": "Агентство по делам государственной "
                   "службы, департамент по {city}", "akim": "Акиму района № {n}"}

# Per-row tokens inside a complaint template (never occur in real text).
T_IIN, T_PHONE, T_DAY, T_LEARNED = "\u2063IIN\u2063", "\u2063PHONE\u2063", "\u2063DAY\u2063", "\u2063LEARNED\u2063"


def language_of(user_id: int) -> str:
    """Every user's language, without a lookup: odd ids read Kazakh, even ids Russian."""
    return "kk" if user_id % 2 else "ru"


def make_iin(rng: random.Random) -> str:
    while True:
        year = rng.randrange(1950, 2006)
        born = date(year, rng.randrange(1, 13), rng.randrange(1, 29))
        century_sex = rng.choice((3, 4)) if year < 2000 else rng.choice((5, 6))
        first11 = f"{born:%y%m%d}{century_sex}{rng.randrange(10_000):04d}"
        digit = check_digit(first11)
        if digit is not None:
            return first11 + str(digit)


def make_phone(rng: random.Random) -> str:
    return f"+77{rng.choice((0, 0, 0, 7, 7, 5))}{rng.randrange(10)}{rng.randrange(10_000_000):07d}"


def person(rng: random.Random, lang: str) -> tuple[str, str, str | None]:
    surnames = KK_SURNAMES if lang == "kk" else RU_SURNAMES
    return rng.choice(surnames), rng.choice(FIRST_NAMES), rng.choice(PATRONYMICS)


def address(rng: random.Random, lang: str) -> str:
    city = rng.choice(CITIES)
    street = rng.choice(STREETS)
    house, flat = rng.randrange(1, 200), rng.randrange(1, 300)
    if lang == "kk":
        return f"{city[1]}, {street} к-сі, {house}-үй, {flat}-пәтер"
    return f"{city[0]}, ул. {street}, д. {house}, кв. {flat}"


def description(rng: random.Random, lang: str, sentences: int) -> str:
    parts = list(DESCRIPTION[lang])
    rng.shuffle(parts)
    return " ".join(parts[:sentences])


def make_complaint(rng: random.Random, lang: str, created: date) -> Complaint:
    """A finished complaint as the wizard builds it: every field an individual fills in, in their language."""
    surname, first, patronymic = person(rng, lang)
    recipient = rng.choice(RECIPIENTS)
    n = rng.randrange(1, 40)
    learned = created - timedelta(days=rng.randrange(3, 80))
    attachments = [Attachment(file_id=f"AgACAgIAAxkBAAI{rng.getrandbits(160):040x}", name=name, kind=kind)
                   for name, kind in (("Расписка ЦОН", "photo"), ("Заявление", "document"), ("Ответ", "document"))
                   [: rng.choice((0, 1, 1, 2, 3))]]
    values = dict(
        grounds=rng.choice(GROUND_IDS),
        recipient_kind=recipient,
        recipient_name=RECIPIENT_NAMES[recipient].format(n=n, city=rng.choice(CITIES)[0][3:]),
        applicant_kind="individual",
        surname=surname,
        first_name=first,
        patronymic=patronymic,
        iin=make_iin(rng),
        postal_address=address(rng, lang),
        actual_address=address(rng, lang) if rng.random() < 0.2 else None,
        phone=make_phone(rng),
        email=f"user{rng.randrange(10**6)}@mail.kz" if rng.random() < 0.4 else None,
        service_name=rng.choice(SERVICES[lang]),
        organisation=rng.choice(ORGANISATIONS[lang]).format(n=n),
        decision_date=learned if rng.random() < 0.5 else None,
        learned_date=learned,
        officials=f"оператор {rng.choice(RU_SURNAMES)} А.Б." if rng.random() < 0.5 else None,
        description=description(rng, lang, rng.randrange(3, 7)),
        demands=" ".join(rng.sample(DEMANDS[lang], rng.randrange(1, 3))),
        attachments=attachments,
    )
    return Complaint(**values, language=lang, consent=True, created=created, filed=created)


@dataclass(frozen=True)
class Template:
    """One complaint's stored JSON (as ComplaintsRepo.create writes it) with tokens for the per-row IIN, phone
    and created/filed day, and the columns that mirror it."""

    data: str
    grounds: str
    recipient_kind: str
    learned_before: int  # days between learning of the decision and the complaint

    @classmethod
    def make(cls, rng: random.Random, lang: str) -> "Template":
        c = make_complaint(rng, lang, date(2000, 1, 1))
        assert c.learned_date is not None
        data = c.to_dict()
        data["iin"], data["phone"] = T_IIN, T_PHONE
        text = json.dumps(data, ensure_ascii=False).replace("2000-01-01", T_DAY)
        text = text.replace(c.learned_date.isoformat(), T_LEARNED)
        return cls(text, c.grounds or "", c.recipient_kind or "provider", (date(2000, 1, 1) - c.learned_date).days)

    def fill(self, iin: str, phone: str, day: date) -> str:
        learned = day - timedelta(days=self.learned_before)
        return (self.data.replace(T_IIN, iin).replace(T_PHONE, phone).replace(T_DAY, day.isoformat())
                .replace(T_LEARNED, learned.isoformat()))


# --------------------------------------------------------------------------------------------- rows

USER_COLUMNS = ("id", "language", "language_source", "first_name", "reminders_enabled", "created_at", "updated_at")
COMPLAINT_COLUMNS = ("id", "number", "user_id", "language", "data", "created_at")
CASE_COLUMNS = ("id", "user_id", "complaint_id", "recipient_kind", "filed_with", "reg_number", "registered_on",
                "status", "created_at", "updated_at", "answered_on")
EVENT_COLUMNS = ("case_id", "kind", "payload", "at")
REMINDER_COLUMNS = ("case_id", "chat_id", "user_id", "audience", "kind", "due_at", "status", "attempts", "sent_at",
                    "payload", "created_at", "updated_at")
FSM_COLUMNS = ("key", "user_id", "state", "data", "updated_at")
CASE_STATUSES = ("", "open", "answered", "closed")  # index 0: a saved complaint nobody tracks


def user_rows(ids: Iterable[int], now: datetime) -> Iterator[tuple]:
    stamp = iso(now)
    for uid in ids:
        yield (uid, language_of(uid), "choice", FIRST_NAMES[uid % len(FIRST_NAMES)], 1, stamp, stamp)


def fsm_key(bot_id: int, user_id: int) -> str:
    """storage.fsm.storage_key of a private chat's default destiny (tests/test_bench_tools.py checks it)."""
    return f"{bot_id}:{user_id}:{user_id}:::default"


@dataclass(frozen=True)
class Spec:
    """How much to generate. ``cases`` of the ``complaints`` are tracked (one case each); reminders are the
    real plans of the most recent cases until ``reminders`` rows exist (older ones sent, future ones pending
    for open cases and cancelled for the others, the latest ``due_wave`` past-due ones still pending: the
    wave the next reminder tick claims)."""

    users: int
    complaints: int
    cases: int
    reminders: int
    open_share: float = 0.55  # open cases among the tracked ones (the rest answered 70%, closed 30%)
    days: int = 720  # complaints spread over this many days before ``now``
    open_days: int = 60  # open cases were registered in the last ``open_days`` days
    due_wave: int = 1000

    def key(self) -> str:
        return f"u{self.users}-c{self.complaints}-k{self.cases}-r{self.reminders}"


class Planner:
    """Reminder rows from the real planner (bot.domain.reminders.plan_case on the real calendar), computed once per
    (recipient, registration day), as ``RemindersRepo.replace_plan`` stores them."""

    def __init__(self) -> None:
        from bot.config import Settings
        from bot.domain.workdays import default_calendar

        self.cal = default_calendar()
        self.settings = Settings(_env_file=None)
        self._plans: dict[tuple[str, date], list[tuple[str, str, str]]] = {}

    def rows(self, recipient: str, registered: date) -> list[tuple[str, str, str]]:
        """[(kind, due_at, payload JSON)] of a case planned on its registration day."""
        key = (recipient, registered)
        plan = self._plans.get(key)
        if plan is None:
            from bot.domain.deadlines import compute
            from bot.domain.reminders import plan_case

            planned = plan_case(compute(recipient, registered, self.cal), cal=self.cal, tz=self.settings.tz,
                                quiet_start=self.settings.quiet_hours_start, quiet_end=self.settings.quiet_hours_end,
                                now=datetime.combine(registered, time(8), tzinfo=TZ))
            plan = self._plans[key] = [
                (p.kind, iso(p.due_at), json.dumps({**p.payload, "planned_at": iso(p.due_at)}, ensure_ascii=False))
                for p in planned
            ]
        return plan


def populate(conn: sqlite3.Connection, spec: Spec, now: datetime, *, user_ids: Sequence[int] | None = None,  # noqa: C901 - one pass per table, in the schema's order
             owner: Callable[[int], int] | None = None, seed: int = 14, drop_indexes: bool = True,
             progress: Callable[[str], None] = lambda s: None) -> dict:
    """Write ``spec``'s rows into a database that has the schema and no rows. ``user_ids`` (default
    1..users) are the people; complaint j (in date order) belongs to ``owner(j)``, by default a random one.
    Secondary indexes are dropped while loading and created again at the end (the same statements).
    Returns the counts and the complaints' JSON bytes."""
    rng = random.Random(seed)
    ids = list(user_ids) if user_ids is not None else list(range(1, spec.users + 1))
    today = now.astimezone(TZ).date()
    dropped = secondary_indexes(conn, ("complaints", "cases", "case_events", "reminders")) if drop_indexes else []
    for name, _ in dropped:
        conn.execute(f"DROP INDEX {name}")

    progress("users")
    insert(conn, "users", USER_COLUMNS, user_rows(ids, now))

    # Every complaint: (days ago, case status); then sorted oldest first, so ids grow with the dates.
    tracked = [True] * spec.cases + [False] * (spec.complaints - spec.cases)
    rng.shuffle(tracked)
    entries = []
    for is_tracked in tracked:
        if not is_tracked:
            entries.append((rng.randrange(spec.days), 0))
        elif rng.random() < spec.open_share:
            entries.append((rng.randrange(spec.open_days), 1))
        else:
            entries.append((rng.randrange(spec.days), 2 if rng.random() < 0.7 else 3))
    entries.sort(key=lambda e: -e[0])
    ago = array("H", (e[0] for e in entries))
    status = array("b", (e[1] for e in entries))
    del entries, tracked
    owners = array("q", (owner(j) if owner is not None else ids[rng.randrange(len(ids))]
                         for j in range(spec.complaints)))
    recipients = array("b", bytes(spec.complaints))
    templates = {lang: [Template.make(rng, lang) for _ in range(400)] for lang in ("kk", "ru")}
    iins = [make_iin(rng) for _ in range(5000)]
    json_bytes = 0

    def complaint_rows() -> Iterator[tuple]:
        nonlocal json_bytes
        for j in range(spec.complaints):
            uid = owners[j]
            lang = language_of(uid)
            day = today - timedelta(days=ago[j])
            template = templates[lang][rng.randrange(len(templates[lang]))]
            recipients[j] = RECIPIENTS.index(template.recipient_kind)
            data = template.fill(iins[j % len(iins)], make_phone(rng), day)
            json_bytes += len(data.encode())
            stamp = local_stamp(day, rng.randrange(9, 20), rng.randrange(60))
            yield (j + 1, complaint_number(j + 1, day), uid, lang, pack_fields(json.loads(data)), stamp)

    progress("complaints")
    insert(conn, "complaints", COMPLAINT_COLUMNS, complaint_rows())

    case_of = array("q")  # case id -> complaint index j
    registered_ago = array("H")

    def case_rows() -> Iterator[tuple]:
        for j in range(spec.complaints):
            if not status[j]:
                continue
            case_of.append(j)
            reg_ago = max(0, ago[j] - rng.randrange(0, 3))
            registered_ago.append(reg_ago)
            registered = today - timedelta(days=reg_ago)
            stamp = local_stamp(registered, 12)
            answered = (min(today, registered + timedelta(days=rng.randrange(3, 20))).isoformat()
                        if status[j] == 2 else None)
            yield (len(case_of), owners[j], j + 1, RECIPIENTS[recipients[j]], "ЦОН", f"ЖТ-{j + 1:08d}",
                   registered.isoformat(), CASE_STATUSES[status[j]], stamp, stamp, answered)

    progress("cases")
    n_cases = insert(conn, "cases", CASE_COLUMNS, case_rows())
    progress("case events")
    insert(conn, "case_events", EVENT_COLUMNS, (
        (c + 1, "created", json.dumps({"recipient_kind": RECIPIENTS[recipients[case_of[c]]]}),
         local_stamp(today - timedelta(days=registered_ago[c]), 12))
        for c in range(n_cases)))

    progress("reminders")
    planner = Planner()
    now_iso = iso(now)
    rows: list[list] = []
    past_due: list[tuple[str, int]] = []
    for c in range(n_cases - 1, -1, -1):  # the most recent cases first
        if len(rows) >= spec.reminders:
            break
        j = case_of[c]
        registered = today - timedelta(days=registered_ago[c])
        for kind, due_at, payload in planner.rows(RECIPIENTS[recipients[j]], registered):
            if len(rows) >= spec.reminders:
                break
            if due_at <= now_iso:
                state = "sent"
                past_due.append((due_at, len(rows)))
            else:
                state = "pending" if status[j] == 1 else "cancelled"
            rows.append([c + 1, owners[j], owners[j], "citizen", kind, due_at, state, int(state == "sent"),
                         due_at if state == "sent" else None, payload, local_stamp(registered, 12), due_at])
    past_due.sort(reverse=True)
    for _, index in past_due[: spec.due_wave]:
        rows[index][6:9] = ["pending", 0, None]
    rows.sort(key=lambda r: (r[10], r[0]))  # inserted in the order the cases were planned
    insert(conn, "reminders", REMINDER_COLUMNS, (tuple(r) for r in rows))

    for name, sql in dropped:
        progress(f"index {name}")
        conn.execute(sql)
    return {"users": len(ids), "complaints": spec.complaints, "cases": n_cases, "reminders": len(rows),
            "due_pending": min(spec.due_wave, len(past_due)), "complaint_json_bytes": json_bytes}
