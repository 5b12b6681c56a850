"""The work budget: a bound on the nodes built and the seconds spent by one computation.

Every public entry point runs under a :class:`Budget` (``budget=`` in the API,
``--budget`` on the command line), so no input, however small, can keep matcalc busy for
minutes.  The constructors of :mod:`matcalc.core.algebra` charge one unit per node they
build; long loops call :func:`tick`.  Running out raises :class:`~matcalc.errors.BudgetError`
naming the stage that was running and how big the work had become.

Budgets nest: an inner ``with limit(...)`` inside an outer one counts against both, and
the innermost stage name is reported.
"""
from __future__ import annotations

import functools
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from ..errors import BudgetError

__all__ = ["Budget", "limit", "stage", "charge", "tick", "remaining_seconds", "as_budget", "budgeted",
           "DEFAULT", "UNLIMITED"]


@dataclass
class Budget:
    """At most ``nodes`` expression nodes built and ``seconds`` of wall time; None means no
    limit on that measure."""
    nodes: int | None = 2_000_000
    seconds: float | None = 60.0
    used: int = field(default=0, init=False)
    started: float = field(default=0.0, init=False)
    stage: str = field(default="", init=False)
    _countdown: int = field(default=0, init=False)

    def __post_init__(self):
        for name in ("nodes", "seconds"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not value > 0 or value != value):
                raise ValueError(f"budget {name} must be a positive number or None, got {value!r}")

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def check(self):
        if self.nodes is not None and self.used > self.nodes:
            self._fail(f"{self.used:,} expression nodes built (limit {self.nodes:,}) in {self.elapsed():.1f} s")
        if self.seconds is not None and self.elapsed() > self.seconds:
            self._fail(f"{self.elapsed():.1f} s spent (limit {self.seconds:g} s), {self.used:,} expression nodes built")

    def _fail(self, what):
        where = f" while {self.stage}" if self.stage else ""
        raise BudgetError(
            f"work budget exceeded{where}: {what}. Raise the limit with budget=… "
            f"(--budget on the command line), or split the expression",
            stage=self.stage, nodes=self.used, seconds=self.elapsed())


DEFAULT = Budget()
"""The API's default: generous (2 million nodes, 60 s), a guard against runaway inputs."""

UNLIMITED = None

_ACTIVE: ContextVar[tuple] = ContextVar("matcalc_budgets", default=())


def as_budget(value) -> Budget | None:
    """A Budget from the ``budget=`` argument: a Budget, a number of seconds, a dict with
    ``nodes``/``seconds``, None for the default, or ``False`` for no limit."""
    if value is None:
        return Budget(DEFAULT.nodes, DEFAULT.seconds)
    if value is False:
        return None
    if isinstance(value, Budget):
        return Budget(value.nodes, value.seconds)
    if isinstance(value, dict):
        unknown = set(value) - {"nodes", "seconds"}
        if unknown:
            raise ValueError(f"unknown budget field {sorted(unknown)[0]!r}; use nodes and seconds")
        return Budget(value.get("nodes"), value.get("seconds"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Budget(DEFAULT.nodes, float(value))
    raise TypeError(f"budget must be a Budget, a number of seconds, a dict, None or False, not {value!r}")


@contextmanager
def limit(value=None, stage_name=""):
    """Run the block under a budget (see :func:`as_budget`); nested budgets all count, and
    every active budget reports ``stage_name`` while the block runs."""
    budget = as_budget(value)
    if budget is None:
        with stage(stage_name):
            yield None
        return
    budget.started = time.monotonic()
    token = _ACTIVE.set(_ACTIVE.get() + (budget,))
    try:
        with stage(stage_name):
            yield budget
    finally:
        _ACTIVE.reset(token)


def budgeted(stage_name):
    """Give a public function a ``budget=`` keyword: it runs under that budget (see
    :func:`as_budget`; the default is :data:`DEFAULT`), and running out raises
    :class:`~matcalc.errors.BudgetError` naming ``stage_name`` or the inner stage."""
    def decorate(function):
        @functools.wraps(function)
        def run(*args, budget=None, **kwargs):
            with limit(budget, stage_name):
                return function(*args, **kwargs)
        run.__doc__ = (function.__doc__ or "").rstrip() + (
            "\n\n    ``budget``: the work budget — a :class:`matcalc.Budget`, a number of seconds, "
            "a dict\n    ``{\"nodes\": …, \"seconds\": …}``, None for the default (2 million nodes, "
            "60 s) or False\n    for none; running out raises :class:`matcalc.BudgetError`.\n")
        return run
    return decorate


@contextmanager
def stage(name):
    """Name the stage that is running, for the error message (an empty name keeps the
    current one)."""
    if not name:
        yield
        return
    active = _ACTIVE.get()
    previous = [b.stage for b in active]
    for b in active:
        b.stage = name
    try:
        yield
    finally:
        for b, old in zip(active, previous):
            b.stage = old


def charge(units=1):
    """Count ``units`` nodes against every active budget (checking time now and then)."""
    for budget in _ACTIVE.get():
        budget.used += units
        budget._countdown -= units
        if budget._countdown <= 0 or (budget.nodes is not None and budget.used > budget.nodes):
            budget._countdown = 256   # the clock is read every 256 nodes
            budget.check()


def remaining_seconds() -> float | None:
    """The seconds left in the tightest active budget (None when no budget limits time),
    for work done outside Python, such as a pdflatex run, that must not outlast it."""
    left = [b.seconds - b.elapsed() for b in _ACTIVE.get() if b.seconds is not None]
    return max(0.0, min(left)) if left else None


def tick():
    """Check the time of every active budget (for loops that build no nodes)."""
    for budget in _ACTIVE.get():
        budget.check()
