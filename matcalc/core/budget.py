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

import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from ..errors import BudgetError

__all__ = ["Budget", "limit", "stage", "charge", "tick", "as_budget", "DEFAULT", "UNLIMITED"]


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
            self._fail(f"{self.used:,} expression nodes built (limit {self.nodes:,})")
        if self.seconds is not None and self.elapsed() > self.seconds:
            self._fail(f"{self.elapsed():.1f} s spent (limit {self.seconds:g} s)")

    def _fail(self, what):
        where = f" while {self.stage}" if self.stage else ""
        raise BudgetError(
            f"work budget exceeded{where}: {what}; the expression had grown to {self.used:,} nodes. "
            f"Raise the limit with budget=… (--budget on the command line), or simplify the input",
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
    """Run the block under a budget (see :func:`as_budget`); nested budgets all count."""
    budget = as_budget(value)
    if budget is None:
        yield None
        return
    budget.started = time.monotonic()
    budget.stage = stage_name
    token = _ACTIVE.set(_ACTIVE.get() + (budget,))
    try:
        yield budget
    finally:
        _ACTIVE.reset(token)


@contextmanager
def stage(name):
    """Name the stage that is running, for the error message."""
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
        if budget._countdown <= 0:
            budget._countdown = 256
            budget.check()


def tick():
    """Check the time of every active budget (for loops that build no nodes)."""
    for budget in _ACTIVE.get():
        budget.check()
