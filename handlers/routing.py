"""The Router every feature uses: aiogram's, minus the cost of passing through routers that cannot take the
event.

aiogram tries the routers in order for every update, and passing one costs about 12 µs on these machines
(its outer-middleware chain is built again, with ``functools.wraps``, for every router and every event; its
root filters are checked; the handler list is walked, every filter called through aiogram's ``CallableObject``
with its keyword arguments picked from ~30) even when the router has nothing for the event (the errors router
for a message, the wizard's router for a question typed outside the wizard). With ~19 routers that was most
of the routing cost of an update (docs/performance.md). :class:`FeatureRouter` does the same thing with three
shortcuts that change nothing in what is called:

* a router whose subtree has no handler and no outer middleware for the event's type returns UNHANDLED at
  once (aiogram would walk it and find nothing: root filters only decide whether handlers run);
* the gate: a feature router (right below the root) whose subtree cannot match the event returns UNHANDLED
  at once. Whether
  it can is decided by the filters' *quick checks*, plain synchronous necessary conditions: a command filter
  needs a command of its names, a state filter one of its states, a callback-data filter its prefix, and any
  filter may say its own with a ``quick(event, data) -> bool`` method (:data:`Quick`). A filter without one
  counts as passing, so the gate only ever skips a router in which every handler has a filter that fails
  (and aiogram's own walk checks every filter again in the routers it does not skip);
* in a router it does walk, a handler whose quick checks fail is passed over without calling its filters
  (:class:`GatedObserver`);
* an observer without outer middlewares goes straight to the walk (aiogram would wrap it in an empty
  middleware chain), and the walk calls no root-filter check where there is no root filter and no trigger
  where there is no handler (each a call with the ~30 keyword arguments copied), and a router it can pass
  over (the first two points) is passed over before it is called. :class:`FeatureDispatcher` walks the
  same way: the bot's dispatcher has no outer middleware on the events inside an update;
* what the walk needs to know of the routers below one for a type of event (feature router or not, handles
  the type, its gate) is its *plan* (:func:`_plan`), made on the first event of the type;
* a chain of middlewares is built without ``functools.wraps``, and the managers of a handler's inner
  middlewares are found once (:meth:`GatedObserver._resolve_middlewares`);
* a router level is one coroutine (:func:`walk`: root filters, handlers, routers below), with one keyword
  dict shared down the walk (set back where aiogram's copy would have kept a change from the next router),
  an async handler or filter is called without ``CallableObject.call`` (:func:`_call`), and the dispatcher's
  update observer hands the event to the walk without calling ``_listen_update`` (:class:`_UpdateObserver`).
  In the e2e burst ~200 updates are in flight and the cyclic GC walks their await chains and keyword dicts
  at every young collection: an faq update's chain at its reply went from 26 coroutines and 10 dicts of the
  keywords to 16 and 3 (tests/test_routing_depth.py).

Which types a subtree handles, its gate and the plans are computed on the first event of that type and
computed again when a router is included anywhere below; handlers are registered when the routers are built
(``get_router()``), before the first update.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from functools import partial
from inspect import isclass
from re import Pattern
from typing import Any

from aiogram import Dispatcher, Router
from aiogram.dispatcher.event.bases import REJECTED, UNHANDLED, MiddlewareType, SkipHandler
from aiogram.dispatcher.event.handler import CallableObject, FilterObject, HandlerObject
from aiogram.dispatcher.event.telegram import TelegramEventObserver
from aiogram.dispatcher.middlewares.manager import MiddlewareManager
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.types.update import UpdateTypeLookupError

__all__ = ["FeatureDispatcher", "FeatureRouter", "GatedObserver", "Quick", "quick_check"]

#: A filter's necessary condition, checked without awaiting anything: False only when the filter would
#: reject the event (``data``: what the handler would be called with, e.g. ``raw_state``, ``i18n``).
Quick = Callable[[TelegramObject, dict[str, Any]], bool]
#: A router subtree's gate: None means "could match anything".
Gate = Callable[[TelegramObject, dict[str, Any]], bool] | None


def _command(f: Command) -> Quick:
    """What Command.__call__ checks before it awaits anything: a text or caption, the prefix, the name."""
    names: frozenset[str] | None = None
    if not any(isinstance(c, Pattern) for c in f.commands):
        names = frozenset(str(c) for c in f.commands)
    prefixes, ignore_case = f.prefix, f.ignore_case

    def check(event: TelegramObject, data: dict[str, Any]) -> bool:
        if not isinstance(event, Message):
            return False
        text = event.text or event.caption
        if not text:
            return False
        if text[0] not in prefixes and not text[0].isspace():  # most texts: no split (a copy of the text)
            return False
        parts = text.split(maxsplit=1)
        if not parts or parts[0][0] not in prefixes:
            return False
        if names is None:
            return True
        name = parts[0][1:].partition("@")[0]
        return (name.casefold() if ignore_case else name) in names

    return check


def _state(f: StateFilter) -> Quick | None:
    """StateFilter.__call__ has nothing to await: the same answer, from the names of the states it allows
    (computed once: aiogram's loop formats each ``State.state`` again at every call, ~17 times an update)."""
    if any(s == "*" for s in f.states if isinstance(s, str)):
        return None  # any state
    names: set[str | None] = set()
    for allowed in f.states:
        if isinstance(allowed, str) or allowed is None:
            names.add(allowed)
        elif isinstance(allowed, State):
            if allowed.state == "*":
                return _anything
            names.add(allowed.state)
        elif isinstance(allowed, StatesGroup):
            names.update(type(allowed).__all_states_names__)
        elif isclass(allowed) and issubclass(allowed, StatesGroup):
            names.update(allowed.__all_states_names__)
    allowed_names = frozenset(names)

    def check(event: TelegramObject, data: dict[str, Any]) -> bool:
        return data.get("raw_state") in allowed_names

    return check


def _anything(event: TelegramObject, data: dict[str, Any]) -> bool:
    return True


def _callback_data(f: CallbackQueryFilter) -> Quick:
    """CallbackData.unpack fails unless the data's first part is the prefix."""
    prefix, sep = f.callback_data.__prefix__, f.callback_data.__separator__
    n = len(prefix)
    whole = sep not in prefix  # else the first part is never the prefix: split as unpack does

    def check(event: TelegramObject, data: dict[str, Any]) -> bool:
        value = event.data if isinstance(event, CallbackQuery) else None
        if not value:
            return False
        if whole:  # the first part without splitting (a list) the data
            return value.startswith(prefix) and (len(value) == n or value.startswith(sep, n))
        return value.split(sep, 1)[0] == prefix

    return check


def quick_check(f: FilterObject) -> Quick | None:
    """The quick check of one filter of a handler or router, None when it has none."""
    callback = f.callback
    if isinstance(callback, Command):
        return _command(callback)
    if isinstance(callback, StateFilter):
        return _state(callback)
    if isinstance(callback, CallbackQueryFilter):
        return _callback_data(callback)
    quick = getattr(callback, "quick", None)
    return quick if callable(quick) else None


def _all(checks: list[Quick]) -> Quick:
    every = tuple(checks)

    def check(event: TelegramObject, data: dict[str, Any]) -> bool:
        for q in every:
            if not q(event, data):
                return False
        return True

    return check


def _gate(roots: list[Quick], ways: list[Quick]) -> Quick:
    """Every root check, and one of the ways."""
    need, any_of = tuple(roots), tuple(ways)

    def check(event: TelegramObject, data: dict[str, Any]) -> bool:
        for q in need:
            if not q(event, data):
                return False
        for way in any_of:
            if way(event, data):
                return True
        return False

    return check


def handler_check(handler: HandlerObject) -> Quick | None:
    """The quick checks of a handler's filters together (None: it has none)."""
    checks = [q for q in map(quick_check, handler.filters or ()) if q is not None]
    if not checks:
        return None
    return checks[0] if len(checks) == 1 else _all(checks)


def decided_by_quick_check(f: FilterObject) -> bool:
    """Is the filter's quick check its whole answer (True exactly when the filter accepts, and the filter
    gives the handler nothing)? aiogram's ``StateFilter`` (its quick check is the same loop), and the bot's
    filters that say so with ``quick_is_exact = True``."""
    callback = f.callback
    if isinstance(callback, StateFilter):
        return _state(callback) is not None
    return getattr(callback, "quick_is_exact", False) is True and quick_check(f) is not None


class GatedObserver(TelegramEventObserver):
    """aiogram's observer, passing over a handler whose quick checks fail (aiogram would call its filters one
    by one, each through ``CallableObject``, and find one that fails), and not calling again a filter its
    quick check decided (:func:`decided_by_quick_check`). Its handlers are tried by :func:`walk`."""

    def __init__(self, router: Router, event_name: str) -> None:
        super().__init__(router=router, event_name=event_name)
        self._checks: dict[tuple[int, int], tuple[Quick | None, tuple[FilterObject, ...]]] = {}
        self._managers: tuple[Router, tuple[MiddlewareManager, ...]] | None = None

    def _resolve_middlewares(self) -> list[MiddlewareType[TelegramObject]]:
        """aiogram's: the inner middlewares of this event in the routers from the top down to this one. Which
        managers hold them is found once (aiogram walks the chain at every handled event, ~3.5 µs): a router's
        parent never changes once set, and the list is found again if the top of the chain has been included
        somewhere since. Their contents are read at each call (a middleware registered later counts)."""
        found = self._managers
        if found is None or found[0].parent_router is not None:
            routers = tuple(self.router.chain_head)  # this router first, the top last
            observers = (router.observers.get(self.event_name) for router in reversed(routers))
            found = self._managers = (routers[-1], tuple(o.middleware for o in observers if o))
        middlewares: list[MiddlewareType[TelegramObject]] = []
        for manager in found[1]:
            if len(manager):
                middlewares.extend(manager)
        return middlewares

    def _check(self, handler: HandlerObject) -> tuple[Quick | None, tuple[FilterObject, ...]]:
        """The handler's quick check, and the filters still to call once it passed (computed again when a filter
        is added: a router's root filters can be, ``router.message.filter(...)``, after the first event)."""
        key = id(handler), len(handler.filters or ())
        if key not in self._checks:
            quick = handler_check(handler)
            rest = tuple(f for f in handler.filters or () if quick is None or not decided_by_quick_check(f))
            self._checks[key] = (quick, rest)
        return self._checks[key]

    def wrap_outer_middleware(self, callback: Any, event: TelegramObject, data: dict[str, Any]) -> Any:
        """aiogram's, with :func:`_wrap` (every update goes through the dispatcher's outer middlewares)."""
        return _wrap(self.outer_middleware, callback)(event, data)

    def trigger(self, event: TelegramObject, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        """aiogram's ``trigger``: the walk's handler part, on ``kwargs`` (its own, as aiogram's); a plain
        function returning the walk's coroutine for the caller to await (one coroutine frame fewer)."""
        return walk(self.router, self, self.event_name, event, kwargs, handlers_only=True)


async def _rest_accept(filters: tuple[FilterObject, ...], event: TelegramObject,
                       kwargs: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """aiogram's ``HandlerObject.check`` over some of a handler's filters, without copying ``kwargs`` unless a
    filter gives the handler something."""
    data = kwargs
    for f in filters:
        check = await _call(f, event, data)
        if not check:
            return False, kwargs
        if isinstance(check, dict):
            if data is kwargs:
                data = dict(kwargs)
            data.update(check)
    return True, data


_CALL = CallableObject.call


def _call(obj: CallableObject, event: TelegramObject, data: dict[str, Any]) -> Awaitable[Any]:
    """``obj.call(event, **data)`` (a filter or a handler): for an awaitable callback, aiogram's ``call`` only
    builds a ``functools.partial`` of it with the keywords it takes (``_prepare_kwargs``) and awaits that: the
    same call without that coroutine frame, the partial and two copies of ``data`` (~38 entries). Anything
    else (a synchronous callback, run in a thread; a ``call`` replaced) goes through ``obj.call``."""
    if obj.awaitable and type(obj).call is _CALL:
        return obj.callback(event, **obj._prepare_kwargs(data))
    return obj.call(event, **data)


_MISSING = object()


async def walk(  # noqa: C901 - one coroutine a router level, its three parts in it (see the docstring)
        router: Router, observer: TelegramEventObserver | None, update_type: str, event: TelegramObject,
        kwargs: dict[str, Any], handlers_only: bool = False) -> Any:
    """aiogram's ``Router._propagate_event`` (root filters, handlers, then the routers below, in order, until
    one takes the event) in one coroutine per router level (aiogram: five, with ``propagate_event``,
    ``check_root_filters``, ``trigger`` and ``CallableObject.call``; this walk had three), with the gate's
    shortcuts (the module's docstring).

    ``kwargs`` (``event_router`` set to ``router``) is shared with the walk above: aiogram gives each router
    and each trigger a copy of its own, so that what a router's filters give, the ``handler`` its trigger
    tried and what a handler's inner middlewares change reach no router beside or above it. Here the walk
    copies only where something is added (root or handler filters that give data: ``_rest_accept`` copies;
    a handler with inner middlewares: :func:`_prepare`) and sets ``event_router`` and ``handler`` back before
    the walk above goes on. (If an exception leaves the walk, the dict is not read again: it is the walk's
    since ``_UpdateObserver.trigger``, and every caller above that passes its own with ``**``.)

    ``handlers_only``: aiogram's ``trigger`` (no root filter, no router below) on its own ``kwargs``."""
    if observer is not None:
        if observer._handler.filters and not handlers_only:
            verdict = _root(observer, event, kwargs)
            result, kwargs = verdict if isinstance(verdict, tuple) else await verdict
            if not result:
                return UNHANDLED
        if not observer.handlers:
            response = UNHANDLED
        elif not isinstance(observer, GatedObserver):
            response = await observer.trigger(event, **kwargs)
        else:  # GatedObserver's trigger: aiogram's, on ``tried`` (``kwargs`` until a handler gets a copy of its own)
            response, tried = UNHANDLED, kwargs
            before = kwargs.get("handler", _MISSING)
            for handler in observer.handlers:
                tried["handler"] = handler
                quick, rest = observer._check(handler)
                verdict = _accept(handler, quick, rest, event, tried)
                result, data = verdict if isinstance(verdict, tuple) else await verdict
                if not result:
                    continue
                try:
                    tried, call = _prepare(observer, handler, event, data, data is kwargs and not handlers_only)
                    response = await call
                    break
                except SkipHandler:
                    continue
            _put_back(kwargs, "handler", before)
        if handlers_only:  # aiogram's trigger returns what the handler returned, REJECTED too
            return response
        if response is REJECTED:  # pragma: no cover  # only if a handler returns REJECTED
            return UNHANDLED
        if response is not UNHANDLED:
            return response
    elif handlers_only:
        return UNHANDLED
    response = UNHANDLED
    for sub, feature, sub_observer, gate in _plan(router, update_type):
        if not feature or (sub_observer is not None and sub_observer.outer_middleware):  # aiogram's own way
            response = await sub.propagate_event(update_type=update_type, event=event, **kwargs)
        else:
            # passed over here, before the walk goes into it
            if gate is not None and not _opens(gate, event, kwargs):
                continue
            kwargs["event_router"] = sub
            response = await walk(sub, sub_observer, update_type, event, kwargs)
            kwargs["event_router"] = router
        if response is not UNHANDLED:
            break
    return response


Verdict = tuple[bool, dict[str, Any]] | Awaitable[tuple[bool, dict[str, Any]]]


def _accept(holder: HandlerObject, quick: Quick | None, rest: tuple[FilterObject, ...], event: TelegramObject,
            data: dict[str, Any]) -> Verdict:
    """``holder.check(event, **data)``: the answer when the quick check gives it or no filter is left to call
    (no coroutine), else the awaitable that finds it."""
    try:
        if quick is not None and not quick(event, data):
            return False, data
    except Exception:  # cannot tell: the filters decide
        return holder.check(event, **data)
    return _rest_accept(rest, event, data) if rest else (True, data)


def _root(observer: TelegramEventObserver, event: TelegramObject, kwargs: dict[str, Any]) -> Verdict:
    """The root filters' verdict (``check_root_filters``); the data is a copy if they gave any."""
    if isinstance(observer, GatedObserver):
        quick, rest = observer._check(observer._handler)
        return _accept(observer._handler, quick, rest, event, kwargs)
    return observer.check_root_filters(event, **kwargs)


def _prepare(observer: GatedObserver, handler: HandlerObject, event: TelegramObject, data: dict[str, Any],
             shared: bool) -> tuple[dict[str, Any], Awaitable[Any]]:
    """The call of a handler whose filters passed, and the dict it is called with: a copy if ``data`` is
    shared with the walk and inner middlewares could change it (aiogram's trigger has a copy of its own)."""
    inner = observer._resolve_middlewares()
    if not inner:  # aiogram would wrap the call in an empty chain (functools.wraps, a copy)
        return data, _call(handler, event, data)
    if shared:
        data = dict(data)
    return data, _wrap(inner, handler)(event, data)


def _put_back(data: dict[str, Any], key: str, value: Any) -> None:
    if value is _MISSING:
        data.pop(key, None)
    else:
        data[key] = value


def _wrap(middlewares: Sequence[MiddlewareType[TelegramObject]], handler: Callable[..., Any] | CallableObject) -> Any:
    """aiogram's ``MiddlewareManager.wrap_middlewares(middlewares, handler)`` without ``functools.wraps`` on
    the innermost call (copying the handler's attributes onto it took most of its ~2.8 µs; the bot's
    middlewares only call what they are given). A handler object is called as :func:`_call` calls it."""

    def call(event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(handler, CallableObject):
            return _call(handler, event, data)
        return handler(event, **data)

    chained: Any = call
    for middleware in reversed(middlewares):
        chained = partial(middleware, chained)
    return chained


class FeatureRouter(Router):
    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._handles: dict[str, bool] = {}
        self._gates: dict[str, Gate] = {}
        for event_name, observer in list(self.observers.items()):
            if event_name != "error" and getattr(self, event_name, None) is observer:
                gated = GatedObserver(router=self, event_name=event_name)
                setattr(self, event_name, gated)
                self.observers[event_name] = gated

    def include_router(self, router: Router) -> Router:
        included = super().include_router(router)
        _forget_plans(self)
        return included

    def handles(self, update_type: str) -> bool:
        """Could this router or one below it do anything with an event of this type?"""
        known = self._handles.get(update_type)
        if known is None:
            known = self._handles[update_type] = any(
                observer is not None and bool(observer.handlers or observer.outer_middleware)
                for observer in (router.observers.get(update_type) for router in self.chain_tail)
            )
        return known

    def gate(self, update_type: str) -> Gate:
        """A check that is False only when no handler of this subtree can take the event (None: no check)."""
        if update_type not in self._gates:
            self._gates[update_type] = self._build_gate(update_type)
        return self._gates[update_type]

    def _build_gate(self, update_type: str) -> Gate:
        observer = self.observers.get(update_type)
        if observer is None or observer.outer_middleware:
            return None
        roots = [q for q in map(quick_check, observer._handler.filters or ()) if q is not None]
        ways: list[Quick] = []  # one per handler and per router below: a way the event could be taken
        for handler in observer.handlers:
            way = handler_check(handler)
            if way is None:
                return _all(roots) if roots else None
            ways.append(way)
        for router in self.sub_routers:
            if isinstance(router, FeatureRouter):
                if not router.handles(update_type):
                    continue
                sub = router.gate(update_type)
            else:
                sub = None
            if sub is None:
                return _all(roots) if roots else None
            ways.append(sub)

        return _gate(roots, ways)

    def is_feature(self) -> bool:
        """Right below the bot's root (a feature router below a feature router that is not below one)."""
        parent = self.parent_router
        return isinstance(parent, FeatureRouter) and not isinstance(parent.parent_router, FeatureRouter)

    def _may_take(self, update_type: str, event: TelegramObject, data: dict[str, Any]) -> bool:
        """The gate of a feature (a router right below the bot's root): the root's gate would only cost (every
        update passes some feature), and below a feature aiogram's walk, with the handlers' quick checks
        (:class:`GatedObserver`), costs about what a gate would."""
        if not self.is_feature():
            return True
        gate = self.gate(update_type)
        if gate is None:
            return True
        try:
            return gate(event, data)
        except Exception:  # a quick check that cannot tell: aiogram's walk decides
            return True

    async def propagate_event(self, update_type: str, event: TelegramObject, **kwargs: Any) -> Any:
        if _outer(self, update_type):  # aiogram's own way: the chain of outer middlewares, then the walk
            return await super().propagate_event(update_type, event, **kwargs)
        if self.passes_over(update_type, event, kwargs):
            return UNHANDLED
        kwargs["event_router"] = self
        return await walk(self, self.observers.get(update_type), update_type, event, kwargs)

    def passes_over(self, update_type: str, event: TelegramObject, data: dict[str, Any]) -> bool:
        """Nothing in this subtree can take the event (for a router without outer middleware on its type)."""
        return not self.handles(update_type) or not self._may_take(update_type, event, data)

    async def _propagate_event(self, observer: TelegramEventObserver | None, update_type: str,
                               event: TelegramObject, **kwargs: Any) -> Any:
        return await walk(self, observer, update_type, event, kwargs)


def _opens(gate: Quick, event: TelegramObject, data: dict[str, Any]) -> bool:
    try:
        return gate(event, data)
    except Exception:  # a quick check that cannot tell: aiogram's walk decides
        return True


def _never(event: TelegramObject, data: dict[str, Any]) -> bool:
    return False


#: What the walk of a router does with each router below it for one type of event: (router, is it a feature
#: router, its observer of the type, its gate: ``_never`` when its subtree has nothing for the type).
Plan = tuple[tuple[Router, bool, TelegramEventObserver | None, Gate], ...]


def _plan(router: Router, update_type: str) -> Plan:
    """The walk's plan (:data:`Plan`), made on the first event of the type: each event used to ask every
    router below whether it is a feature router, handles the type, sits right below the root (has a gate) and
    which gate, about 1 µs a router (8 features below the root). Made again when a router is included below."""
    plans: dict[str, Plan] = router.__dict__.setdefault("_plans", {})
    plan = plans.get(update_type)
    if plan is None:
        steps: list[tuple[Router, bool, TelegramEventObserver | None, Gate]] = []
        for sub in router.sub_routers:
            if not isinstance(sub, FeatureRouter):
                steps.append((sub, False, None, None))
                continue
            gate = _never if not sub.handles(update_type) else sub.gate(update_type) if sub.is_feature() else None
            steps.append((sub, True, sub.observers.get(update_type), gate))
        plan = plans[update_type] = tuple(steps)
    return plan


def _forget_plans(router: Router) -> None:
    """A router was included below ``router``: what the routers above it knew of their subtrees is stale."""
    for above in router.chain_head:
        if isinstance(above, FeatureRouter):
            above._handles.clear()
            above._gates.clear()
        above.__dict__.pop("_plans", None)


def _outer(router: Router, update_type: str) -> bool:
    """Has the router outer middlewares for this type of event?"""
    observer = router.observers.get(update_type)
    return observer is not None and bool(observer.outer_middleware)


class FeatureDispatcher(Dispatcher):
    """aiogram's Dispatcher, walking its routers as :class:`FeatureRouter` does (no empty middleware chain, no
    empty root-filter check or trigger); its update observer (the handler that hands each update's event to
    the routers, its outer middlewares) is a :class:`GatedObserver` too."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        plain = self.update
        gated = _UpdateObserver(router=self, event_name="update")
        gated.handlers, gated.outer_middleware, gated.middleware = plain.handlers, plain.outer_middleware, \
            plain.middleware
        gated.listen = plain.handlers[0]  # aiogram's _listen_update
        self.update = self.observers["update"] = gated

    def include_router(self, router: Router) -> Router:
        included = super().include_router(router)
        _forget_plans(self)
        return included

    async def propagate_event(self, update_type: str, event: TelegramObject, **kwargs: Any) -> Any:
        return await self._walk(update_type, event, kwargs)

    def _walk(self, update_type: str, event: TelegramObject, kwargs: dict[str, Any]) -> Awaitable[Any]:
        """``propagate_event`` on ``kwargs`` (its own)."""
        if _outer(self, update_type):
            return super().propagate_event(update_type, event, **kwargs)
        kwargs["event_router"] = self
        return walk(self, self.observers.get(update_type), update_type, event, kwargs)

    async def _propagate_event(self, observer: TelegramEventObserver | None, update_type: str,
                               event: TelegramObject, **kwargs: Any) -> Any:
        return await walk(self, observer, update_type, event, kwargs)


class _UpdateObserver(GatedObserver):
    """The dispatcher's update observer. Its handler, aiogram's ``Dispatcher._listen_update``, only finds the
    update's event and its type and hands them to ``propagate_event``; the trigger does that itself when it is
    the one handler, without filters or inner middlewares (so always in the bot): the same keywords reach the
    walk, with one coroutine frame (:func:`_skip_is_unhandled`) instead of the trigger's walk and
    ``_listen_update``, and without two copies of the keywords."""

    listen: HandlerObject | None = None

    def trigger(self, event: TelegramObject, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        listen, handlers = self.listen, self.handlers
        if (len(handlers) == 1 and handlers[0] is listen and listen is not None and not listen.filters
                and "update" not in kwargs and isinstance(event, Update) and not self._resolve_middlewares()):
            try:
                update_type, inner = event.event_type, event.event
            except UpdateTypeLookupError:  # aiogram's: a warning, then SkipHandler
                return super().trigger(event, **kwargs)
            kwargs["handler"] = listen
            kwargs["event_update"] = event
            return _skip_is_unhandled(self.router._walk(update_type, inner, kwargs))  # type: ignore[attr-defined]
        return super().trigger(event, **kwargs)


async def _skip_is_unhandled(walking: Awaitable[Any]) -> Any:
    """aiogram's update trigger catches a SkipHandler from its handler, ``_listen_update``: one raised in the
    walk but not by a handler (a filter, an outer middleware of a router) ends the update as not handled."""
    try:
        return await walking
    except SkipHandler:
        return UNHANDLED
