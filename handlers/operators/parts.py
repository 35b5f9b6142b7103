"""The routers the desk's router is made of (commands, the operators' group, the citizen's side)."""

from __future__ import annotations

from handlers.routing import FeatureRouter

__all__ = ["DeskPart"]


class DeskPart(FeatureRouter):
    """A part of the desk's router, gated like a feature (handlers/routing.py): the walk of the desk's router
    passes over a part whose handlers' quick checks all fail before it enters it. Every free text reaches the
    desk's router (the citizen's relay may take it) and used to enter the commands' and the group's parts for
    nothing: ~12 µs of every FAQ question (cost.py). A gate only passes over a part none of whose handlers
    could take the event, so what is called is the same."""

    def is_feature(self) -> bool:
        return True
