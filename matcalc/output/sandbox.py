"""The sandbox user templates run in: Jinja2's, with bounds on the work a template can do.

Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment` stops a template from reaching
Python's internals (``x.__class__``) and caps ``range`` at 100,000 numbers, but nested
loops, recursive macros and huge products still run unbounded.  Here

* every step of every ``for`` loop and every call (of a macro, a global, a method) is
  charged to the work budget (:mod:`matcalc.core.budget`), so ``range(10**5)`` nested in
  ``range(10**5)`` stops with a :class:`~matcalc.errors.BudgetError` after the budget's
  seconds, naming the stage "rendering";
* a product that would build a huge value at once (``"x" * 10**9``, ``10 ** 10**9``), a
  filter asked for a huge width (``center(10**9)``) or a format string with a huge width
  is refused before it is built;
* the document is collected piece by piece and refused past :data:`MAX_OUTPUT` characters;
* every error a template causes — unknown template, syntax error, undefined field, a
  sandbox violation, a range too big, recursion too deep, memory — is a
  :class:`TemplateError` (a :class:`~matcalc.errors.MatcalcError`) naming the template and
  the line.
"""
from __future__ import annotations

import functools
import re

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from ..core import budget
from ..errors import BudgetError, MatcalcError

__all__ = ["TemplateError", "TemplateSecurityError", "TemplateUndefinedError", "BudgetedSandbox",
           "render", "MAX_OUTPUT", "MAX_SIZE"]

MAX_OUTPUT = 100_000_000
"""The most characters a rendered document may have."""

MAX_SIZE = 1_000_000
"""The largest sequence a template may build in one operation, and the largest number it
may pass to a filter or use as a width."""


class TemplateError(MatcalcError, ValueError):
    """A template that cannot be found or rendered; the message names the template and line."""


class TemplateSecurityError(TemplateError, SecurityError):
    """The sandbox refused something a template tried (``x.__class__``, an unsafe call)."""


class TemplateUndefinedError(TemplateError, jinja2.UndefinedError):
    """A template used a field or name that does not exist."""


_WIDE_FORMAT = re.compile(r"\d{%d,}" % len(str(MAX_SIZE)))


class BudgetedSandbox(SandboxedEnvironment):
    """Jinja2's sandbox with every loop step and call charged to the work budget and every
    one-step construction of a large value refused (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def _parse(self, source, name, filename):
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):   # for x in XS  →  for x in environment.steps(XS)
            loop.iter = nodes.Call(nodes.EnvironmentAttribute("steps"), [loop.iter], [], None, None,
                                   lineno=loop.iter.lineno)
        tree.set_environment(self)
        return tree

    @staticmethod
    def steps(iterable):
        """The items of a loop, each charged to the work budget."""
        for item in iterable:
            budget.tick()
            yield item

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - the names of Jinja2's own
        budget.tick()
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context, operator_name, left, right):
        if operator_name == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(count, int) \
                        and len(sequence) * count > MAX_SIZE:
                    raise TemplateError(f"a product of {len(sequence):,} items and {count:,} is too large "
                                        f"(at most {MAX_SIZE:,})")
        elif operator_name == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and \
                    right * max(abs(left), 2).bit_length() > 64 * 1024:
                raise TemplateError(f"{left} ** {right} is too large a number")
        elif operator_name == "%" and isinstance(left, str):
            _check_format(left)
        return super().call_binop(context, operator_name, left, right)


def _check_format(text):
    if _WIDE_FORMAT.search(text):
        raise TemplateError(f"a format string with a width or precision of {MAX_SIZE:,} or more")


def _bounded_filter(name, function):
    """``function`` refusing numbers beyond MAX_SIZE (a width, a count) and wide formats."""
    @functools.wraps(function)   # keeps Jinja2's pass_context/pass_environment marks
    def bounded(*args, **kwargs):
        for value in (*args, *kwargs.values()):
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SIZE:
                raise TemplateError(f"the filter {name} was given {value:,}; at most {MAX_SIZE:,}")
        if name == "format" and args and isinstance(args[0], str):
            _check_format(args[0])
        return function(*args, **kwargs)
    return bounded


def render(env, name, **context) -> str:
    """Template ``name`` of ``env`` rendered with ``context``; any error it causes is a
    :class:`TemplateError` (the work budget's :class:`~matcalc.errors.BudgetError` passes
    through as it is)."""
    template = load(env, name)
    pieces, size = [], 0
    try:
        for piece in template.generate(**context):
            size += len(piece)
            if size > MAX_OUTPUT:
                raise TemplateError(f"the document is longer than {MAX_OUTPUT:,} characters")
            pieces.append(piece)
    except BudgetError:
        raise
    except SecurityError as error:
        raise _located(TemplateSecurityError, error, template, "the sandbox refused it") from None
    except jinja2.UndefinedError as error:
        raise _located(TemplateUndefinedError, error, template) from None
    except RecursionError as error:
        raise _located(TemplateError, error, template, "a macro calling itself without end?") from None
    except MemoryError as error:
        raise _located(TemplateError, error, template, "it needs more memory than there is") from None
    except (MatcalcError, jinja2.TemplateError, OverflowError, TypeError, ValueError, ArithmeticError,
            LookupError, AttributeError) as error:
        # OverflowError: the sandbox's range limit (100,000 numbers), or a float too large
        raise _located(TemplateError, error, template) from None
    return "".join(pieces)


def load(env, name):
    """``env.get_template(name)``, a syntax error reported as a TemplateError."""
    try:
        return env.get_template(name)
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(f"template {error.filename or error.name or name}, line {error.lineno}: "
                            f"{error.message}") from None


def _located(kind, error, template, note=""):
    """``kind``, its message naming the template and the line the error happened on."""
    text = str(error).strip()
    message = text.splitlines()[0] if text else type(error).__name__
    line = _template_line(error, template)
    where = f"template {template.filename or template.name}" + (f", line {line}" if line else "")
    return kind(f"{where}: {message}" + (f" ({note})" if note else ""))


def _template_line(error, template):
    """The line of the template that raised ``error`` (Jinja2 rewrites the traceback so that
    its frames point into the template), or None."""
    traceback = getattr(error, "__traceback__", None)
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == template.filename:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line

