"""The complaint wizard, end to end: the real app polling the fake Bot API, drafts read back from where the bot
keeps them (the SQLite file, Redis or PostgreSQL: the ``fsm_backend`` fixture runs every test on each)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.domain.documents import document_text
from bot.domain.entities import StoredComplaint
from bot.services.i18n import build_i18n
from handlers.complaint.callbacks import WizCb
from tests.backends import age_conversation, conversation, query, repositories, running_bot
from tests.fakeapi import BotMessage, FakeUser
from tests.test_documents import pdf_text

pytestmark = pytest.mark.usefixtures("fsm_backend")  # on SQLite, with the conversation in Redis, on PostgreSQL

I18N = build_i18n("ru")
TODAY = datetime.now(ZoneInfo("Asia/Almaty")).date()
DECISION = TODAY - timedelta(days=20)
LEARNED = TODAY.replace(day=1)  # always in the calendar the date step shows first
LATE = TODAY - timedelta(days=130)  # past the 3-month filing limit: a warning, never a block
DESK = -1001234567890


def tr(msgid: str, lang: str) -> str:
    text = I18N.gettext(msgid, locale=lang)
    assert text != msgid, f"{msgid!r} is not translated into {lang}"
    return text


# ------------------------------------------------------------------------------------- helpers

async def fsm_row(db_path, user_id: int) -> tuple[str | None, dict] | None:
    return await conversation(db_path, user_id)  # the SQLite file, Redis or PostgreSQL, as the test runs


async def draft_of(db_path, user_id: int) -> dict:
    row = await fsm_row(db_path, user_id)
    assert row is not None, "no wizard state"
    return row[1]


def wiz_buttons(m: BotMessage) -> list[tuple[WizCb, dict]]:
    found = []
    for btn in (b for row in m.button_rows for b in row):
        data = btn.get("callback_data") or ""
        if data.startswith("cw:"):
            found.append((WizCb.unpack(data), btn))
    return found


def prompt_n(m: BotMessage) -> int:
    buttons = wiz_buttons(m) if m.keyboard_type == "inline" else []
    return buttons[0][0].n if buttons else 0


class Walker:
    """Drives one user through the wizard, answering whatever step the stored draft is at."""

    def __init__(self, fake, db_path, user: FakeUser) -> None:
        self.fake, self.db_path, self.user = fake, db_path, user
        self.prompt: BotMessage | None = None

    async def next_prompt(self) -> BotMessage:
        after = prompt_n(self.prompt) if self.prompt else 0
        self.prompt = await self.user.expect(predicate=lambda m: prompt_n(m) > after)
        return self.prompt

    def find(self, action: str, value: str | None = None, message: BotMessage | None = None) -> str:
        for m in ([message] if message else reversed(self.user.messages)):
            for cb, btn in (wiz_buttons(m) if m.keyboard_type == "inline" else []):
                if cb.a == action and (value is None or cb.v == value):
                    return btn["callback_data"]
        raise AssertionError(f"no wizard button {action}:{value}")

    async def press(self, action: str, value: str | None = None, *, wait: bool = True) -> str:
        qid = await self.user.press_data(self.find(action, value, self.prompt), self.prompt)
        if wait:
            await self.next_prompt()
        return qid

    async def send(self, text: str) -> None:
        await self.user.send(text)
        await self.next_prompt()

    async def begin(self) -> None:
        await self.user.send("/complaint")
        await self.next_prompt()
        await self.press("ok")

    async def step(self) -> str:
        """The step of the draft as stored."""
        return (await draft_of(self.db_path, self.user.id))["step"]

    async def answer(self, value) -> None:
        if isinstance(value, str):
            await self.send(value)
        elif value[0] == "contact":
            await self.user.expect(predicate=lambda m: m.keyboard_type == "reply")
            await self.user.press(value[1])  # the request_contact reply button
            await self.next_prompt()
        elif value[0] == "dp":
            await self.press("dp", value[1].strftime("%Y%m%d"))
        elif value[0] == "photo":
            await self.user.send_photo(caption=value[1])
            await self.user.expect()  # "Added: ..."
        elif value[0] == "doc":
            await self.user.send_document(value[1], b"%PDF-1.4 fake")
            await self.user.expect()
        else:
            await self.press(*value)

    async def walk(self, answers: dict, *, until: str = "review") -> None:
        while (step := await self.step()) != until:
            value = answers[step]
            for item in value if isinstance(value, list) else [value]:  # several actions at one step: attachments
                await self.answer(item)
            assert await self.step() != step or step == "attachments", f"stuck at {step}"

    async def confirm(self) -> BotMessage:
        """Confirm; returns the DOCX, keeps the PDF sent right after it in ``self.pdf``."""
        await self.press("cf", wait=False)
        doc = await self.user.expect(predicate=lambda m: m.kind == "document")
        self.pdf = await self.user.expect()
        assert self.pdf.kind == "document" and self.pdf.filename.endswith(".pdf"), self.pdf
        return doc


class AppWalker(Walker):
    """The wizard's walker reading the step from the app's conversation store (any backend)."""

    def __init__(self, fake, app, user) -> None:
        super().__init__(fake, None, user)
        self.app = app

    async def draft(self) -> dict:
        key = StorageKey(bot_id=self.app.bot.id, chat_id=self.user.id, user_id=self.user.id)
        return await self.app.fsm.get_data(key)

    async def step(self) -> str:
        return (await self.draft())["step"]


def individual_kk() -> dict:
    return {
        "grounds": ("ch", "unjustified_refusal"),
        "recipient_kind": ("ch", "provider"),
        "recipient_name": "Өскемен қаласы ХҚКО басшысы",
        "applicant_kind": ("ch", "individual"),
        "surname": "Әлиханқызы",
        "first_name": "Айгерім",
        "patronymic": "Бекқызы",
        "iin": "0612 1160 0012",
        "postal_address": "Өскемен қ., Қабанбай батыр к-сі 12",
        "actual_address": "Өскемен қ., Ғабит Мүсірепов к-сі 5, 7-пәтер",
        "phone": ("contact", "📱"),
        "email": "aigerim@mail.kz",
        "service_name": "Тұрғылықты жері бойынша тіркеу",
        "organisation": "Өскемен қаласының №2 ХҚКО",
        "decision_date": DECISION.strftime("%d.%m.%Y"),
        "learned_date": ("dp", LEARNED),
        "officials": "Бас маман Сәрсенбаев Ғ.Қ.",
        "description": "Өтінішті уақытында бердім.\nҚызметкер себебін түсіндірмей бас тартты.",
        "demands": "Қызметті заңда белгіленген мерзімде көрсетуді сұраймын",
        "attachments": [("photo", "Бас тарту туралы хат"), ("doc", "otinish.pdf"), ("dn",)],
    }


def individual_ru() -> dict:
    return {
        "grounds": ("ch", "other"),
        "grounds_other_text": "Бездействие: заявление не рассмотрено",
        "recipient_kind": ("ch", "quality_authority"),
        "recipient_name": "Департамент Агентства по делам госслужбы по ВКО",
        "applicant_kind": ("ch", "individual"),
        "surname": "Иванова-Әлиева",
        "first_name": "Ольга",
        "patronymic": ("sk",),
        "iin": ("ni",),
        "id_doc_type": ("ch", "foreign_passport"),
        "id_doc_number": "FA 1234567",
        "id_doc_issued": "20.05.2019",
        "id_doc_issuer": "МВД Республики Узбекистан",
        "postal_address": "г. Усть-Каменогорск, ул. Қабанбай батыра 12, кв. 3",
        "actual_address": ("sk",),
        "phone": "8 (701) 555-12-34",
        "email": ("sk",),
        "service_name": "Выдача справки о несудимости",
        "organisation": "ЦОН № 1 г. Усть-Каменогорска",
        "decision_date": ("sk",),
        "learned_date": LEARNED.strftime("%d.%m.%Y"),
        "officials": ("sk",),
        "description": "Сказали <b>приходите завтра</b> & так три раза.",
        "demands": "Рассмотреть заявление и выдать справку",
        "attachments": [("dn",)],
    }


def legal_entity() -> dict:
    return {
        "grounds": ("ch", "extra_documents"),
        "recipient_kind": ("ch", "akim"),
        "recipient_name": "Аким города Алматы",
        "applicant_kind": ("ch", "legal_entity"),
        "org_name": "ТОО «Шығыс Құрылыс»",
        "bin": "940140000385",
        "outgoing_number": "15/2-Ш",
        "outgoing_date": ("dp", LEARNED),
        "postal_address": "050000, Алматы қ., Әл-Фараби даңғылы 77",
        "actual_address": ("sk",),
        "representative_name": "Сейітқали Нұрлан Болатұлы",
        "representative_position": "Директор",
        "phone": "+7 727 123 45 67",
        "email": "info@shygys.kz",
        "service_name": "Выдача разрешения на строительство",
        "organisation": "Управление архитектуры г. Алматы",
        "decision_date": (LATE - timedelta(days=3)).strftime("%d.%m.%Y"),
        "learned_date": LATE.strftime("%d.%m.%Y"),
        "officials": "Главный специалист Ахметов Б.",
        "description": "Потребовали справку, которой нет в стандарте.",
        "demands": "Принять документы без лишних справок",
        "attachments": [("doc", "zapros.pdf"), ("dn",)],
    }


async def complaints_of(db_path, user_id: int) -> list[StoredComplaint]:
    """The complaints a person confirmed, as stored (through the repository, on the test's backend)."""
    async with repositories(db_path) as repos:
        return await repos.complaints.list_for_user(user_id)


# --------------------------------------------------------------------------------------- tests

async def test_individual_complaint_in_kazakh(fake, db_path, no_unhandled):
    user = fake.user(501, "Айгерім", language_code="kk")
    answers = individual_kk()
    fake.group(DESK, "Desk")  # with an operators' desk the last message offers to send the complaint there
    async with running_bot(fake, db_path, operators_chat_id=DESK):
        w = Walker(fake, db_path, user)
        await w.begin()
        assert tr("Step {n} of {total}", "kk").format(n=1, total=20) in w.prompt.text
        await w.walk(answers)
        review = w.prompt
        assert "Әлиханқызы" in review.text and "aigerim@mail.kz" in review.text
        doc = await w.confirm()
        assert doc.filename.endswith("_shagym.docx")
        after = await user.expect()
        assert "eOtinish" in after.text and "1414" in after.text and "/my" in after.text
        escalate = after.callback_data(after.buttons[0])
        (stored,) = await complaints_of(db_path, 501)
        assert escalate == f"esc:complaint:{stored.id}"
    text = document_text(doc.document)
    assert "Шағым" in text and "Жалоба" not in text
    for value in (
        "Әлиханқызы Айгерім Бекқызы", "061211600012", "Өскемен қ., Қабанбай батыр к-сі 12",
        "Өскемен қ., Ғабит Мүсірепов к-сі 5, 7-пәтер", "+77010000501", "aigerim@mail.kz",
        "Өскемен қаласы ХҚКО басшысына", "Тұрғылықты жері бойынша тіркеу", "Өскемен қаласының №2 ХҚКО",
        DECISION.strftime("%d.%m.%Y"), LEARNED.strftime("%d.%m.%Y"), "Бас маман Сәрсенбаев Ғ.Қ.",
        "Өтінішті уақытында бердім.", "Қызметкер себебін түсіндірмей бас тартты.",
        "Қызметті заңда белгіленген мерзімде көрсетуді сұраймын", "Бас тарту туралы хат", "otinish.pdf",
        tr("Unjustified refusal to provide the service", "kk"),
    ):
        assert value in text, value
    # the addressee alone, in the dative, first; no generic recipient label above it
    assert text.split("\n")[0] == "Өскемен қаласы ХҚКО басшысына"
    assert tr("Head of the service provider", "kk") not in text
    assert w.pdf.filename.endswith("_shagym.pdf")
    assert "Әлиханқызы" in pdf_text(w.pdf.document)
    assert await query(db_path, "SELECT COUNT(*) FROM complaints") == [(1,)]
    number, lang, data = stored.number, stored.language, stored.complaint
    assert number == f"SH-{TODAY.year}-{stored.id:06d}" and lang == "kk" and number in doc.text
    assert data.surname == "Әлиханқызы"
    assert await fsm_row(db_path, 501) is None  # the draft is gone once the complaint is saved


async def test_individual_complaint_in_russian_with_no_iin_and_markup(fake, db_path, no_unhandled):
    user = fake.user(502, "Ольга", language_code="ru")
    async with running_bot(fake, db_path):
        w = Walker(fake, db_path, user)
        await w.begin()
        await w.walk(individual_ru())
        draft = (await draft_of(db_path, 502))["draft"]
        assert draft["no_iin"] is True and draft["iin"] is None and draft["phone"] == "+77015551234"
        assert (draft["id_doc_type"], draft["id_doc_number"], draft["id_doc_issued"], draft["id_doc_issuer"]) == (
            "foreign_passport", "FA 1234567", "2019-05-20", "МВД Республики Узбекистан")
        assert draft["description"] == "Сказали <b>приходите завтра</b> & так три раза."  # plain text
        review = w.prompt
        assert "&lt;b&gt;приходите завтра&lt;/b&gt; &amp; так" in review.text  # shown escaped
        for label, value in (("Identity document", tr("Passport of a foreign citizen", "ru")),
                             ("Document number", "FA 1234567"), ("Date of issue", "20.05.2019"),
                             ("Issued by", "МВД Республики Узбекистан")):
            assert f"<b>{tr(label, 'ru')}:</b> {value}" in review.text
        assert "<b>приходите завтра</b>" in review.plain_text
        doc = await w.confirm()
        assert doc.filename.endswith("_zhaloba.docx")
    text = document_text(doc.document)
    assert "Жалоба" in text and "Шағым" not in text
    # no IIN: the identity document's details stand in the applicant block instead
    # (docs/legal.md, 'What a complaint contains')
    assert tr("IIN", "ru") + ":" not in text and tr("no IIN", "ru") not in text
    for value in (
        "Иванова-Әлиева Ольга", tr("Passport of a foreign citizen", "ru"), "FA 1234567", "20.05.2019",
        "МВД Республики Узбекистан", "г. Усть-Каменогорск, ул. Қабанбай батыра 12, кв. 3",
        "+77015551234", "Департаменту Агентства по делам госслужбы по ВКО", "Выдача справки о несудимости",
        "ЦОН № 1 г. Усть-Каменогорска", LEARNED.strftime("%d.%m.%Y"), "Бездействие: заявление не рассмотрено",
        "Сказали <b>приходите завтра</b> & так три раза.", "Рассмотреть заявление и выдать справку",
        tr("No attachments", "ru"),
    ):
        assert value in text, value


async def test_legal_entity_complaint(fake, db_path, no_unhandled):
    user = fake.user(503, "Нұрлан", language_code="ru")
    answers = legal_entity()
    async with running_bot(fake, db_path):
        w = Walker(fake, db_path, user)
        await w.begin()
        await w.walk(answers, until="outgoing_date")
        # the calendar: go one month back and forth (the message is edited, the draft untouched)
        before = await draft_of(db_path, 503)
        await user.press_data(w.find("dm", message=w.prompt), w.prompt)  # « a year back
        edited = await user.expect_edit(w.prompt)
        assert await draft_of(db_path, 503) == before
        back_now = f"{TODAY.year:04d}{TODAY.month:02d}"
        await user.press_data(w.find("dm", back_now, message=edited), edited)  # » and here again
        await user.expect_edit(w.prompt)
        await w.walk(answers)
        warning = tr("More than 3 months have passed since that date (the term ended on {date}). A complaint filed "
                     "after the term may be left without review unless the missed term is restored for a valid "
                     "reason. If you had one (illness, a trip, waiting for an answer), mention it in the "
                     "description. You can go on.", "ru").split("(")[0]
        assert any(warning in (m.text or "") for m in user.messages)
        doc = await w.confirm()
    text = document_text(doc.document)
    assert "Жалоба" in text and LATE.strftime("%d.%m.%Y") in text
    for value in (
        "ТОО «Шығыс Құрылыс»", "940140000385", "15/2-Ш", LEARNED.strftime("%d.%m.%Y"),
        "050000, Алматы қ., Әл-Фараби даңғылы 77", "Директор Сейітқали Нұрлан Болатұлы", "+77271234567",
        "info@shygys.kz", "Акиму города Алматы", "Выдача разрешения на строительство",
        "Управление архитектуры г. Алматы", (LATE - timedelta(days=3)).strftime("%d.%m.%Y"),
        "Главный специалист Ахметов Б.",
        "Потребовали справку, которой нет в стандарте.", "Принять документы без лишних справок", "zapros.pdf",
    ):
        assert value in text, value
    assert tr("Akim of the relevant administrative-territorial unit", "ru") not in text
    assert tr("Signatory", "ru") + ": Директор Сейітқали Нұрлан Болатұлы" in text
    (stored,) = await complaints_of(db_path, 503)
    assert stored.complaint.applicant_kind == "legal_entity"


async def test_invalid_iin_and_bin_are_refused_with_the_reason(fake, db_path, no_unhandled):
    person = fake.user(504, "Дана", language_code="kk")
    firm = fake.user(505, "Марат", language_code="ru")
    async with running_bot(fake, db_path):
        w = Walker(fake, db_path, person)
        await w.begin()
        await w.walk(individual_kk(), until="iin")
        before = await draft_of(db_path, 504)
        for bad, reason in (
            ("061211600013", "the last (check) digit does not match the others; please check for a typo."),
            ("12345", "it must have exactly 12 digits."),
            ("061211900012", "the 7th digit (century of birth and sex) must be from 1 to 6."),
        ):
            await person.send(bad)
            answer = await person.expect()
            assert tr(reason, "kk") in answer.text, answer.text
            assert tr("This IIN is not valid: {reason}", "kk").split("{")[0] in answer.text
            assert await draft_of(db_path, 504) == before
        await w.press("ni")  # "I have no IIN" works: the identity document is asked instead
        assert (await draft_of(db_path, 504))["draft"]["no_iin"] is True and await w.step() == "id_doc_type"
        assert tr("Passport of a foreign citizen", "kk") in w.prompt.buttons[0]
        assert not any(cb.a == "sk" for cb, _ in wiz_buttons(w.prompt))  # not skippable
        await w.press("bk")  # back to the IIN: typing one after all drops the document step again
        await w.send("0612 1160 0012")
        draft = await draft_of(db_path, 504)
        assert draft["step"] == "postal_address" and draft["draft"]["no_iin"] is False

        f = Walker(fake, db_path, firm)
        await f.begin()
        await f.walk(legal_entity(), until="bin")
        before = await draft_of(db_path, 505)
        for bad, reason in (
            ("941340000385", "the 3rd and 4th digits must be the month of registration (01 to 12)."),
            ("940170000385", "the 5th digit (type of organisation) must be 4, 5 or 6."),
            ("940144000385", "the 6th digit (head office, branch or representative office) must be from 0 to 3."),
            ("940140000386", "the last (check) digit does not match the others; please check for a typo."),
        ):
            await firm.send(bad)
            answer = await firm.expect()
            assert tr(reason, "ru") in answer.text, answer.text
            assert await draft_of(db_path, 505) == before
        await f.send("9401 4000 0385")
        assert (await draft_of(db_path, 505))["draft"]["bin"] == "940140000385"


async def test_bad_inputs_are_answered_and_change_nothing(fake, db_path, no_unhandled):
    user = fake.user(506, "Ерлан", language_code="ru")
    async with running_bot(fake, db_path):
        w = Walker(fake, db_path, user)
        await w.begin()
        grounds_prompt = w.prompt
        await w.walk(individual_kk(), until="surname")
        before = await draft_of(db_path, 506)

        async def refused(action) -> str:
            await action
            answer = await user.expect()
            assert await draft_of(db_path, 506) == before
            return answer.text

        assert tr("Please send the answer as a text message: stickers, photos, voice messages and files are not "
                  "accepted at this step.", "ru") in await refused(user.send_sticker())
        assert "⚠️" not in await refused(user.send_photo())
        await refused(user.send_voice())
        await refused(user.send_document("a.pdf", b"%PDF"))
        too_long = await refused(user.send("Ә" * 4096))
        assert "4096" in too_long and "60" in too_long
        assert tr("A name may contain only letters, a hyphen, an apostrophe and spaces.", "ru") in await refused(
            user.send("<b>x</b>")
        )
        await refused(user.send("/unknowncommand"))
        # an old button (the grounds step), a button of another draft, a forged value, garbage data
        stale = tr("This button is no longer valid.", "ru")
        old = w.find("ch", "ethics", grounds_prompt)
        cur = WizCb.unpack(w.find("cx", message=w.prompt))
        for data in (
            old,
            WizCb(t="zzzzzz", n=cur.n, a="bk").pack(),
            WizCb(t=cur.t, n=cur.n, a="ch", v="hacker").pack(),
            WizCb(t=cur.t, n=cur.n, a="ed", v="iin").pack(),
            "cw:garbage",
            "cw:" + "x" * 60,
        ):
            qid = await user.press_data(data, grounds_prompt)
            assert (await user.answered_callback(qid))["text"] == stale
            assert await draft_of(db_path, 506) == before
        await user.expect_no_message(0.2)
        # a step with choices refuses text; HTML in free text is stored as plain text and echoed escaped
        await w.send("Әлиханова")
        await w.walk(individual_kk(), until="service_name")
        await w.send("<b>x</b> & <i>y</i>")
        assert (await draft_of(db_path, 506))["draft"]["service_name"] == "<b>x</b> & <i>y</i>"
        await w.press("bk")
        assert "&lt;b&gt;x&lt;/b&gt; &amp; &lt;i&gt;y&lt;/i&gt;" in w.prompt.text


async def test_restart_in_the_middle_continues_at_the_same_step(fake, db_path, no_unhandled):
    user = fake.user(507, "Айгерім", language_code="kk")
    answers = individual_kk()
    async with running_bot(fake, db_path):
        w = Walker(fake, db_path, user)
        await w.begin()
        await w.walk(answers, until="postal_address")
        before = await draft_of(db_path, 507)
    async with running_bot(fake, db_path):
        assert await draft_of(db_path, 507) == before
        await w.send(answers["postal_address"])  # answered as the postal address, right where we stopped
        after = await draft_of(db_path, 507)
        assert after["step"] == "actual_address"
        assert after["draft"]["postal_address"] == answers["postal_address"]
        assert {k: v for k, v in after["draft"].items() if k != "postal_address"} == {
            k: v for k, v in before["draft"].items() if k != "postal_address"
        }
        # /complaint resumes the draft rather than starting over
        await user.send("/complaint")
        await w.next_prompt()
        assert await w.step() == "actual_address" and (await draft_of(db_path, 507))["draft"] == after["draft"]
        await w.walk(answers)
        doc = await w.confirm()
    assert "Әлиханқызы Айгерім Бекқызы" in document_text(doc.document)


async def test_edit_from_review_changes_only_that_field(fake, db_path, no_unhandled):
    user = fake.user(508, "Ольга", language_code="ru")
    async with running_bot(fake, db_path):
        w = Walker(fake, db_path, user)
        await w.begin()
        await w.walk(legal_entity())
        before = (await draft_of(db_path, 508))["draft"]
        review_button = w.find("ed", "email")
        await w.press("ed", "email")
        assert "info@shygys.kz" in w.prompt.text  # the current value is shown
        await w.send("office@shygys.kz")
        state = await draft_of(db_path, 508)
        assert state["step"] == "review"
        after = state["draft"]
        assert {k for k in before if before[k] != after[k]} == {"email"} and after["email"] == "office@shygys.kz"
        # the old review's buttons are stale now
        qid = await user.press_data(review_button)
        assert (await user.answered_callback(qid))["text"] == tr("This button is no longer valid.", "ru")
        # editing the grounds to "other" asks the text it needs, then returns to the review
        await w.press("ed", "grounds")
        await w.press("ch", "other")
        assert await w.step() == "grounds_other_text"
        await w.send("Волокита")
        state = await draft_of(db_path, 508)
        assert state["step"] == "review" and state["draft"]["grounds_other_text"] == "Волокита"
        doc = await w.confirm()
    text = document_text(doc.document)
    assert "office@shygys.kz" in text and "info@shygys.kz" not in text and "Волокита" in text


async def test_declining_consent_stores_nothing(fake, db_path, no_unhandled):
    user = fake.user(509, "Дана", language_code="kk")
    async with running_bot(fake, db_path):
        w = Walker(fake, db_path, user)
        await user.send("/complaint")
        prompt = await w.next_prompt()
        assert "ЖСН" in prompt.text  # the explanation of what is processed, in Kazakh
        await w.press("no", wait=False)
        answer = await user.expect()
        assert "/complaint" in answer.text
        qid = await user.press_data(w.find("ok", message=prompt), prompt)  # too late to agree on the old button
        assert (await user.answered_callback(qid))["text"] == tr("This button is no longer valid.", "kk")
        await fake.idle()
    assert await query(db_path, "SELECT COUNT(*) FROM complaints") == [(0,)]
    assert await fsm_row(db_path, 509) is None


async def test_abandoned_drafts_are_purged(fake, db_path):
    user = fake.user(510, "Дана", language_code="ru")
    async with running_bot(fake, db_path) as app:
        assert app.scheduler.get_job("purge_drafts") is not None
        w = Walker(fake, db_path, user)
        await w.begin()
        assert await app.drafts.purge() == 0
        await age_conversation(db_path, 510)
        assert await app.drafts.purge() == 1
    assert await fsm_row(db_path, 510) is None


def test_review_of_the_longest_draft_fits_one_message():
    from bot.domain.complaint import FIELDS, Attachment, Complaint
    from handlers.complaint.steps import review_text

    draft = Complaint(grounds="other", recipient_kind="provider", applicant_kind="legal_entity", learned_date=TODAY)
    for spec in FIELDS:
        if spec.kind == "text":
            setattr(draft, spec.name, "<Ә&>" * ((spec.max_len or 300) // 4))
    draft.attachments = [Attachment(f"f{i}", "Ө" * 100, "document") for i in range(20)]
    for lang in ("kk", "ru"):
        with I18N.context(), I18N.use_locale(lang):
            text = review_text(draft)
        assert len(text) < 4096 and "…" in text and "<Ә&>" not in text and "&lt;Ә&amp;&gt;" in text


async def test_start_keeps_an_unfinished_draft(fake, db_path, no_unhandled):
    user = fake.user(512, "Айгерім", language_code="kk")
    answers = individual_kk()
    async with running_bot(fake, db_path):
        w = Walker(fake, db_path, user)
        await w.begin()
        await w.walk(answers, until="postal_address")
        before = await draft_of(db_path, 512)
        await user.send("/start")
        reply = await user.expect_text("Аяқталмаған шағымыңыз сақталды")
        assert "Сәлеметсіз бе" in reply.text
        assert await draft_of(db_path, 512) == before


def test_a_lone_slash_in_the_wizard_is_not_a_crash():
    from aiogram.types import Chat, Message

    from handlers.complaint.messages import _passes_through

    def msg(text: str) -> Message:
        return Message(message_id=1, date=datetime.now(), chat=Chat(id=1, type="private"), text=text)

    assert _passes_through(msg("/\u00a0"), I18N) is False
    assert _passes_through(msg("/"), I18N) is False
    assert _passes_through(msg("/my@shagym_bot"), I18N) is True
    assert _passes_through(msg("/unknown"), I18N) is False


async def test_language_switch_mid_draft_asks_the_step_again_in_the_new_language(fake, db_path, no_unhandled):
    user = fake.user(513, "Айгерім", language_code="kk")
    answers = individual_kk()
    async with running_bot(fake, db_path):
        w = Walker(fake, db_path, user)
        await w.begin()
        await w.walk(answers, until="postal_address")
        before = await draft_of(db_path, 513)
        await user.send("/language")
        await user.expect()
        await user.press("Русский")
        again = await w.next_prompt()
        assert tr("Step {n} of {total}", "ru").split("{")[0] in again.text
        after = await draft_of(db_path, 513)
        assert after["step"] == "postal_address" and after["draft"] == before["draft"]
        await w.send(answers["postal_address"])
        assert (await draft_of(db_path, 513))["draft"]["postal_address"] == answers["postal_address"]


def test_wizard_buttons_are_packed_as_aiograms_callback_data_packs_them():
    """handlers/complaint/callbacks.py pack(): the text WizCb.pack() gives, and its refusals."""
    import pytest

    from handlers.complaint.callbacks import WizAction, WizCb, pack

    for action in WizAction:
        for token, n, value in (("Xy3_k-", 7, ""), ("abcdef", 0, "individual"), ("A1b2C3", 12345, "20250315"),
                                ("zzzzzz", 3, "representative_position")):
            assert pack(token, n, action, value) == WizCb(t=token, n=n, a=action, v=value).pack()
    for bad in (("ab:cd", 1, WizAction.BACK, ""), ("abcdef", 1, WizAction.CHOICE, "a:b"),
                ("abcdef", 1, WizAction.EDIT, "x" * 60)):
        with pytest.raises(ValueError):
            WizCb(t=bad[0], n=bad[1], a=bad[2], v=bad[3]).pack()
        with pytest.raises(ValueError):
            pack(*bad)
