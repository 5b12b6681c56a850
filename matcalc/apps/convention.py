"""matrixcalculus.org's naming convention: declarations proposed for the names left undeclared.

On matrixcalculus.org a name says what it is, by its first letter: ``a``–``g`` are scalars,
``h``–``z`` column vectors and ``A``–``Z`` matrices, and their dimensions are inferred.
:func:`propose_declarations` does the same for matcalc's text syntax, so that
``x.T @ A @ x`` needs nothing declared: it proposes ``x: n×1`` and ``A: n×n``.

The proposal is only a proposal.  The text is read with the parser's tokenizer and walked
with the parser's precedence rules, but nothing is built: each operand gets a shape of
dimension *variables*, and each operation relates them (``P @ Q`` equates P's columns with
Q's rows; ``+ - * /`` equate the axes of equal length, leaving an axis of length 1 to
broadcast; ``trace`` and ``inv`` make their argument square).  Variables found equal are
one dimension, named ``n``, ``m``, ``p``, … in the order they first appear (or the declared
dimension they meet).  Nothing here decides whether the text is right: :func:`matcalc.parse`
then reads it with the proposed shapes and reports any mistake at its column, as for
declared ones.

Names that are declared, dimension names, the constants ``pi`` and ``e``, and names given
on their own to ``ones``/``eye`` (dimensions) are never proposed; nor is a name whose first
letter is not an ASCII letter (declare it).
"""
from __future__ import annotations

from dataclasses import dataclass

from .parse import CONSTANTS, FUNCTIONS, _Parser, _is_op, declare

__all__ = ["propose_declarations", "kind_of", "DIMENSION_NAMES"]

DIMENSION_NAMES = ("n", "m", "p", "q", "k", "r", "s", "t", "d", "l", "u", "v")
"""The names given to inferred dimensions, in order (then n1, n2, … if all are taken)."""

SCALAR = ()
"""The shape of a scalar operand (an unknown shape is None)."""


def kind_of(name: str) -> str | None:
    """What the convention makes of ``name``: "scalar" (a–g), "vector" (h–z), "matrix" (A–Z),
    or None (a name starting with anything else)."""
    first = name[:1]
    if "a" <= first <= "g":
        return "scalar"
    if "h" <= first <= "z":
        return "vector"
    if "A" <= first <= "Z":
        return "matrix"
    return None


def propose_declarations(text, shapes=None, *, square=()) -> dict:
    """Shapes for the names of ``text`` that ``shapes`` leaves undeclared, by matrixcalculus.org's
    convention: ``{"x": ("n", 1), "A": ("n", "n"), "c": ()}``, in the order the names appear.

    ``shapes`` are the declarations already made (as for :func:`matcalc.parse`); they are
    kept, and their dimensions join the inference.  ``square`` names matrices that must be
    square (those declared symmetric or spd).  A text the tokenizer refuses raises its
    :class:`~matcalc.errors.ParseError`.
    """
    shapes = dict(shapes or {})
    symbols, dimensions = declare(shapes)
    # The parser's own first pass: its tokens, and the names given on their own to ones/eye.
    parser = _Parser(text, symbols, dimensions)
    inference = _Inference(parser.tokens, shapes, set(parser.dimensions))
    inference.run()
    for name in square:
        shape = inference.proposed.get(name)
        if shape:
            inference.dims.unify(*shape)
    return inference.proposal()


# ---------------------------------------------------------------- dimensions

class _Dimensions:
    """Dimension variables under unification (union–find); a class may hold a known value
    (an int or a declared dimension name)."""

    def __init__(self):
        self.parent = []
        self.value = {}
        self.known = {}

    def fresh(self) -> int:
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def of(self, value) -> int:
        """The variable of a known dimension (one per value)."""
        if value not in self.known:
            self.known[value] = variable = self.fresh()
            self.value[variable] = value
        return self.known[value]

    def find(self, variable) -> int:
        while self.parent[variable] != variable:
            self.parent[variable] = self.parent[self.parent[variable]]
            variable = self.parent[variable]
        return variable

    def value_of(self, variable):
        return self.value.get(self.find(variable))

    def is_one(self, variable) -> bool:
        return self.value_of(variable) == 1

    def unify(self, a, b):
        """Make a and b one dimension.  Two different known values stay apart, and so do an
        inferred dimension and 1: a vector or a matrix of the convention has length > 1, so
        ``x @ A`` is reported by the parser at its '@' rather than read with A 1×m."""
        a, b = self.find(a), self.find(b)
        if a == b:
            return
        if b in self.value:
            a, b = b, a
        if b in self.value or self.value.get(a) == 1:
            return
        self.parent[b] = a


@dataclass
class _Operand:
    shape: tuple | None      # SCALAR, (rows, cols) of dimension variables, or None (unknown)
    literal: object = None   # the int or name of an operand that is a lone number or name


# ---------------------------------------------------------------- the walk

_BINARY_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "@": 2}

_ELEMENTWISE = frozenset({
    "exp", "log", "tanh", "sigmoid", "relu", "sqrt", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
    "sinh", "cosh", "abs", "sign", "softplus", "log1p", "expm1", "erf", "gelu", "logsigmoid", "square",
    "reciprocal", "step", "softmax"})
_SQUARE_TO_SCALAR = frozenset({"trace", "det", "logdet"})
_REDUCTIONS = frozenset({"sum", "mean", "max", "min", "norm"})


class _Inference:
    """A walk over the tokens with the parser's precedence rules, relating the shapes of the
    operands instead of building them."""

    def __init__(self, tokens, shapes, dimension_names):
        self.tokens = tokens
        self.index = 0
        self.shapes = shapes
        self.dimension_names = dimension_names
        self.dims = _Dimensions()
        self.proposed = {}   # name → SCALAR or (rows, cols) of variables, in order of appearance

    # ------------------------------------------------------------ tokens

    @property
    def current(self):
        return self.tokens[self.index]

    def advance(self):
        token = self.current
        if token.kind != "end":
            self.index += 1
        return token

    def at(self, *texts) -> bool:
        return _is_op(self.current, *texts)

    def skip(self, text):
        if self.at(text):
            self.advance()

    # ------------------------------------------------------------ grammar (as parse.py's)

    def run(self):
        if self.current.kind != "end":
            self.expression()

    def expression(self, min_precedence=1) -> _Operand:
        left = self.unary()
        while self.current.kind == "op" and _BINARY_PRECEDENCE.get(self.current.text, 0) >= min_precedence:
            operator = self.advance().text
            right = self.expression(_BINARY_PRECEDENCE[operator] + 1)
            left = self.matmul(left, right) if operator == "@" else self.elementwise(left, right)
        return left

    def unary(self) -> _Operand:
        if self.at("-", "+"):
            self.advance()
            return _Operand(self.unary().shape)
        return self.power()

    def power(self) -> _Operand:
        base = self.postfix()
        if not self.at("**"):
            return base
        self.advance()
        self.unary()
        return _Operand(base.shape)

    def postfix(self) -> _Operand:
        operand = self.primary()
        while self.at("."):
            self.advance()
            self.advance()   # the attribute: T (the parser refuses any other)
            shape = operand.shape
            operand = _Operand(shape[::-1] if shape else shape)
        return operand

    def primary(self) -> _Operand:
        token = self.current
        if token.kind == "number":
            self.advance()
            return _Operand(SCALAR, literal=int(token.text) if token.text.isdigit() else None)
        if token.kind == "name":
            self.advance()
            if self.at("("):
                return self.call(token.text)
            return _Operand(self.lookup(token.text), literal=token.text)
        if self.at("("):
            self.advance()
            inner = self.expression()
            self.skip(")")
            return _Operand(inner.shape)
        self.advance()   # a token the parser will refuse; go on without a shape
        return _Operand(None)

    def call(self, name) -> _Operand:
        self.advance()   # (
        arguments, keywords = [], {}
        while not self.at(")") and self.current.kind != "end":
            if self.current.kind == "name" and _is_op(self.tokens[self.index + 1], "="):
                keyword = self.advance().text
                self.advance()
                keywords[keyword] = self.expression()
            else:
                arguments.append(self.expression())
            if not self.at(","):
                break
            self.advance()
        self.skip(")")
        return _Operand(self.function(name, arguments, keywords))

    # ------------------------------------------------------------ names

    def lookup(self, name):
        if name in self.shapes:
            return self.declared(self.shapes[name])
        if name in self.dimension_names or name in CONSTANTS or name in FUNCTIONS:
            return SCALAR
        if name not in self.proposed:
            kind = kind_of(name)
            if kind is None:
                return None
            self.proposed[name] = (SCALAR if kind == "scalar" else
                                   (self.dims.fresh(), self.dims.of(1)) if kind == "vector" else
                                   (self.dims.fresh(), self.dims.fresh()))
        return self.proposed[name]

    def declared(self, shape):
        if len(shape) != 2:
            return SCALAR
        return tuple(self.dims.of(_known(d)) for d in shape)

    # ------------------------------------------------------------ operations

    def matmul(self, left, right) -> _Operand:
        a, b = left.shape, right.shape
        if not a or not b:   # unknown, or a scalar (which the parser refuses in @)
            return _Operand(None)
        self.dims.unify(a[1], b[0])
        return _Operand((a[0], b[1]))

    def elementwise(self, left, right) -> _Operand:
        """``+ - * /`` broadcast as NumPy does: axes of equal length, or one of length 1."""
        a, b = left.shape, right.shape
        if a is None or b is None:
            return _Operand(None)
        if a == SCALAR or b == SCALAR:
            return _Operand(a or b)
        for m, n in zip(a, b):
            if not (self.dims.is_one(m) or self.dims.is_one(n)):
                self.dims.unify(m, n)
        return _Operand(tuple(n if self.dims.is_one(m) else m for m, n in zip(a, b)))

    def function(self, name, arguments, keywords):
        """The shape of ``name(arguments)``, relating the arguments' dimensions as it goes."""
        shapes = [argument.shape for argument in arguments]
        first = shapes[0] if shapes else None
        if name in ("ones", "eye"):
            literals = [argument.literal for argument in arguments]
            if any(literal is None for literal in literals):
                return None
            variables = [self.dims.of(literal) for literal in literals]
            return (variables[0], variables[0]) if name == "eye" else tuple(variables[:2])
        if name in ("maximum", "minimum") and len(arguments) == 2:
            return self.elementwise(*arguments).shape
        if not first:
            return first
        if name in _ELEMENTWISE:
            return first
        if name in _SQUARE_TO_SCALAR or name == "inv":
            self.dims.unify(*first)
            return SCALAR if name in _SQUARE_TO_SCALAR else first
        if name in _REDUCTIONS:
            axis = keywords.get("axis", arguments[1] if len(arguments) == 2 and name != "norm" else None)
            if axis is None:
                return SCALAR
            return {0: (self.dims.of(1), first[1]), 1: (first[0], self.dims.of(1)),
                    -1: (first[0], self.dims.of(1)), -2: (self.dims.of(1), first[1])}.get(axis.literal)
        return None   # logsumexp, diag, …: no relation worth guessing

    # ------------------------------------------------------------ the result

    def proposal(self) -> dict:
        taken = ({token.text for token in self.tokens if token.kind == "name"} | set(self.shapes)
                 | self.dimension_names | set(FUNCTIONS) | set(CONSTANTS))
        fresh = _fresh_names(taken)
        names = {}   # an inferred dimension (its root) → its name

        def name_of(variable):
            root = self.dims.find(variable)
            if root in self.dims.value:
                return self.dims.value[root]
            if root not in names:
                names[root] = next(fresh)
            return names[root]

        return {name: tuple(name_of(variable) for variable in shape) for name, shape in self.proposed.items()}


def _known(dimension):
    """A declared dimension as the value a class holds: an int, or a name."""
    if isinstance(dimension, str):
        dimension = dimension.strip()
        return int(dimension) if dimension.isdigit() else dimension
    return dimension


def _fresh_names(taken):
    """n, m, p, … then n1, n2, …, skipping ``taken``."""
    for name in DIMENSION_NAMES:
        if name not in taken:
            yield name
    number = 1
    while True:
        if f"n{number}" not in taken:
            yield f"n{number}"
        number += 1
