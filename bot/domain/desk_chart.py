"""The /stats chart: a PNG of the desk's figures, labelled in the operators' language. PURE (figures in, PNG
bytes out); matplotlib's Agg backend, imported only when a chart is drawn (never at start-up), without pyplot
(its global state is not thread-safe: the bot draws off the event loop, bot/services/desk_sla.py).

Three panels: tickets opened and resolved per week (bars), the share resolved in time per week (a line, with
the overall share in its title), and the distribution of the citizens' ratings, 1 to 5 (bars).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import date

from bot.domain.desk import WeekRow
from bot.domain.text import Gettext

__all__ = ["HEIGHT", "WIDTH", "render_chart"]

WIDTH, HEIGHT, DPI = 1200, 750, 100  # pixels of the PNG
OPENED, RESOLVED, IN_TIME, RATINGS = "#4C72B0", "#55A868", "#C44E52", "#8172B2"


def render_chart(weeks: Sequence[WeekRow], ratings: dict[int, int], *, today: date, gettext: Gettext,
                 fmt_date: Callable[[date], str] = lambda d: d.strftime("%d.%m")) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    _ = gettext
    fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 2, height_ratios=(1.15, 1), hspace=0.45, wspace=0.22)
    title = _("Desk statistics on {date}").format(date=today.strftime("%d.%m.%Y"))
    fig.suptitle(title, fontsize=15, fontweight="bold")
    labels = [fmt_date(w.start) for w in weeks]
    x = list(range(len(weeks)))

    top = fig.add_subplot(grid[0, :])
    bars_opened = top.bar([i - 0.2 for i in x], [w.opened for w in weeks], 0.4, color=OPENED, label=_("Opened"))
    bars_resolved = top.bar([i + 0.2 for i in x], [w.resolved for w in weeks], 0.4, color=RESOLVED,
                            label=_("Resolved"))
    top.bar_label(bars_opened, padding=2, fontsize=9)
    top.bar_label(bars_resolved, padding=2, fontsize=9)
    top.set_title(_("Tickets per week (the week starting on)"))
    top.set_xticks(x, labels)
    top.set_ylabel(_("Tickets"))
    top.margins(y=0.2)
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.legend(loc="upper left")

    left = fig.add_subplot(grid[1, 0])
    resolved = sum(w.resolved for w in weeks)
    share = [100 * w.in_time / w.resolved if w.resolved else float("nan") for w in weeks]
    overall = f"{round(100 * sum(w.in_time for w in weeks) / resolved)}%" if resolved else _("no data")
    left.plot(x, share, marker="o", color=IN_TIME)
    left.set_ylim(0, 105)
    left.set_xticks(x, labels, fontsize=8)
    left.set_ylabel("%")
    left.set_title(_("Resolved in time, % (all weeks: {value})").format(value=overall))
    left.grid(axis="y", alpha=0.3)

    right = fig.add_subplot(grid[1, 1])
    stars = list(range(1, 6))
    counts = [ratings.get(s, 0) for s in stars]
    bars = right.bar(stars, counts, color=RATINGS)
    right.bar_label(bars, padding=2, fontsize=9)
    right.set_xticks(stars, [f"{s}★" for s in stars])
    right.set_title(_("Citizens' ratings ({n} in all)").format(n=sum(counts)))
    right.margins(y=0.2)
    right.yaxis.set_major_locator(MaxNLocator(integer=True))

    # The titles go into the PNG's text chunks as well: readable without looking at the pixels.
    panels = " | ".join(ax.get_title() for ax in (top, left, right))
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, metadata={"Title": title, "Description": panels, "Software": None})
    return out.getvalue()
