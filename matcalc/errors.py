"""Exceptions raised by matcalc.

Every error names what went wrong in terms the user wrote: operands and their shapes,
the construct that has no rule, the argument that is missing.  A silent wrong answer is
never an option, so each layer raises one of these instead.
"""
from sympy.matrices.exceptions import ShapeError as _SympyShapeError


class MatcalcError(Exception):
    """Base class of every error matcalc raises on purpose."""


class ShapeError(MatcalcError, _SympyShapeError, ValueError):
    """Operands whose shapes do not fit together (names both operands and their shapes)."""


class DifferentiationError(MatcalcError, ValueError):
    """A derivative that cannot be taken: no rule for a construct, or a bad ``wrt``."""


class CompileError(MatcalcError, ValueError):
    """An expression that cannot be turned into NumPy code."""


class ArgumentError(MatcalcError, ValueError):
    """A compiled function called with a missing or wrongly shaped array."""


class InvalidNameError(MatcalcError, ValueError):
    """A symbol, dimension or function name matcalc refuses: empty, not printable text, or
    not in the normal form (NFKC) Python reads identifiers in, so that two names that look
    different can never be one name in generated code."""


class ParseError(MatcalcError, ValueError):
    """Text that is not a valid matcalc expression.

    ``line`` and ``column`` are 1-based; ``str(err)`` shows the source line with a caret
    under the offending token.
    """

    def __init__(self, message, text="", position=0, length=1):
        self.message = message
        self.text = text
        self.position = position
        before = text[:position]
        self.line = before.count("\n") + 1
        line_start = before.rfind("\n") + 1
        self.column = position - line_start + 1
        line_end = text.find("\n", position)
        self.source_line = text[line_start: len(text) if line_end < 0 else line_end]
        self.length = max(1, length)
        super().__init__(str(self))

    def __str__(self):
        if not self.text:
            return self.message
        caret = " " * (self.column - 1) + "^" * min(self.length, max(1, len(self.source_line) - self.column + 1))
        return (f"{self.message} (line {self.line}, column {self.column})\n"
                f"  {self.source_line}\n  {caret}")


class FileError(MatcalcError, OSError):
    """A file matcalc refuses to write or read: a directory, a device, a FIFO where a regular
    file is needed, a read-only file, a link to nothing, a file larger than the limit."""


class DivergenceError(MatcalcError, FloatingPointError):
    """Training stopped because the loss or a gradient became NaN or infinite."""


class BudgetError(MatcalcError, RuntimeError):
    """A computation ran past its work budget (nodes built or seconds spent).

    ``stage`` names what was running ("derive", "simplify", "compile", …), ``nodes`` how many
    expression nodes had been built and ``seconds`` how long it had run."""

    def __init__(self, message, *, stage="", nodes=0, seconds=0.0):
        super().__init__(message)
        self.stage = stage
        self.nodes = nodes
        self.seconds = seconds
