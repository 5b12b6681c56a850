"""The text syntax: NumPy-style expressions in, matcalc expressions out, with no ``eval``.

``parse("x @ A @ x.T", shapes={"x": (1, "n"), "A": ("n", "n")})`` reads the text with a
hand-written tokenizer and a precedence-climbing parser, and builds the expression from
the constructors of :mod:`matcalc.symbols` and :mod:`matcalc.functions`.  Nothing the user
typed ever reaches ``eval``, ``exec``, ``sympify`` or ``parse_expr``: numbers go through
``int`` and ``fractions.Fraction``, names are looked up in the declared shapes and in a
fixed table of functions.

The meaning follows NumPy on 2-D arrays:

* ``@`` is the matrix product; ``*`` is the elementwise (Hadamard) product of two
  matrices and the ordinary product when one side is a scalar; ``/`` divides by a scalar
  or elementwise; ``**`` raises every entry to a number or a scalar (``x ** p``); ``.T``
  transposes.
* ``+ - * /`` broadcast a row vector (1×m) over the rows of a matrix (``1 b``), a column
  vector over its columns (``c 1ᵀ``) and a scalar over every entry (``s 1 1ᵀ``); a 1×1
  matrix meeting a larger one acts as the scalar it holds (its trace).
* Dimension names are scalars too, so ``sum(...) / N`` is a mean.  A name given on its
  own to ``ones`` or ``eye`` is a dimension even when no shape declares it.
* ``diag(v)`` of a vector is the diagonal matrix; ``diag(A)`` of a square matrix is its
  diagonal, an n×1 column (NumPy's extraction, kept two-dimensional).

Every token keeps its position, so a mistake is reported as a :class:`ParseError` with
the line, the column and a caret under the offending text; a shape mismatch is a
:class:`ShapeError` carrying the same location, pointing at the operator.
"""
from __future__ import annotations

import difflib
import sys
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

import sympy
from sympy.matrices.exceptions import ShapeError as _SympyShapeError
from sympy.matrices.expressions import MatrixExpr, OneMatrix, ZeroMatrix
from sympy.matrices.expressions.diagonal import DiagonalOf

from ..core import algebra, functions
from ..errors import InvalidNameError, ParseError, ShapeError
from ..core.symbols import check_dimension_name, check_name, dim, matrix, scalar, shape_str

__all__ = ["parse", "declare", "FUNCTIONS"]

MAX_LENGTH = 3_000
"""Longest text accepted: far beyond any formula, short enough to parse in well under a second."""

MAX_DEPTH = 50
"""Deepest nesting of brackets, calls and unary operators in the text."""

MAX_TREE_DEPTH = 200
"""Deepest expression tree built (``A @ B * C @ D * …`` nests without brackets); SymPy and
the layers above recurse over trees, so Python's stack sets this limit."""


MAX_NUMBER_BITS = 4_000
"""Largest integer or fraction part, in bits (about 1200 digits): a bound on ``9**9**9``."""

_HINTS = {
    "'": "use .T to transpose",
    "^": "use ** for powers",
    "[": "indexing is not supported; write the whole matrix expression",
    "]": "indexing is not supported; write the whole matrix expression",
    "\"": "strings are not part of the syntax",
    "%": "the remainder operator is not supported",
    "=": "'=' is only allowed for keyword arguments such as axis=0",
}


# ---------------------------------------------------------------- tokens

@dataclass(frozen=True)
class Token:
    kind: str        # "number", "name", "op" or "end"
    text: str
    position: int


def _is_name_start(char: str) -> bool:
    return char == "_" or char.isalpha()


def _is_name_char(char: str) -> bool:
    return char == "_" or char.isalpha() or ("0" <= char <= "9")


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, each remembering where it starts."""
    tokens = []
    i, length = 0, len(text)
    while i < length:
        char = text[i]
        if char in " \t\r\n":
            i += 1
        elif "0" <= char <= "9" or (char == "." and i + 1 < length and "0" <= text[i + 1] <= "9"):
            end = _scan_number(text, i)
            tokens.append(Token("number", text[i:end], i))
            i = end
        elif _is_name_start(char):
            end = i + 1
            while end < length and _is_name_char(text[end]):
                end += 1
            name = text[i:end]
            if unicodedata.normalize("NFKC", name) != name:
                raise ParseError(f"the name {name!r} is not in normal form (NFKC); retype it", text, i, end - i)
            tokens.append(Token("name", name, i))
            i = end
        elif text.startswith("**", i):
            tokens.append(Token("op", "**", i))
            i += 2
        elif text.startswith("//", i):
            raise ParseError("floor division '//' is not supported; use '/'", text, i, 2)
        elif char in "+-*/@(),.=" and not (char == "=" and text.startswith("==", i)):
            tokens.append(Token("op", char, i))
            i += 1
        else:
            shown = char if char.isprintable() else f"U+{ord(char):04X}"
            hint = _HINTS.get(char)
            raise ParseError(f"unexpected character {shown!r}" + (f": {hint}" if hint else ""), text, i)
    tokens.append(Token("end", "", length))
    return tokens


def _scan_number(text: str, i: int) -> int:
    """The end of the numeric literal starting at ``i`` (digits, one point, an exponent)."""
    length = len(text)
    end = i
    while end < length and "0" <= text[end] <= "9":
        end += 1
    if end < length and text[end] == "." and not (end + 1 < length and _is_name_start(text[end + 1])):
        end += 1
        while end < length and "0" <= text[end] <= "9":
            end += 1
    if end < length and text[end] in "eE":
        exponent = end + 1
        if exponent < length and text[exponent] in "+-":
            exponent += 1
        if exponent < length and "0" <= text[exponent] <= "9":
            end = exponent
            while end < length and "0" <= text[end] <= "9":
                end += 1
    return end


def _is_op(token: Token, *texts) -> bool:
    return token.kind == "op" and token.text in texts


# ---------------------------------------------------------------- values with positions

@dataclass(frozen=True)
class Operand:
    """A parsed (sub)expression and the span of text it came from."""
    value: object
    start: int
    end: int

    @property
    def is_matrix(self) -> bool:
        return isinstance(self.value, MatrixExpr)


def _describe(value) -> str:
    """A value for an error message, in matcalc's notation."""
    from ..output.text import to_text
    if isinstance(value, MatrixExpr):
        return f"{to_text(value)} ({shape_str(value.shape)})"
    return f"{to_text(value)} (a scalar)"


# ---------------------------------------------------------------- declarations

def declare(shapes, *, symmetric=(), spd=(), positive=(), onehot=(), binary=()):
    """The symbols named in ``shapes``: ``{"x": (1, "n"), "lam": ()}`` → ``{"x": x, "lam": λ}``.

    A shape is a pair of dimensions (ints or names) for a matrix, or ``()`` for a scalar.
    Returns ``(symbols, dimensions)``: name → symbol, and name → dimension symbol for every
    dimension name used in a shape.  Symbol and dimension names are identifiers in NFKC
    form, the form Python reads them in (``ｎ`` is refused: write ``n``; see
    :func:`matcalc.core.symbols.check_name`), and no name is both a symbol and a dimension.
    """
    flags = {"symmetric": symmetric, "spd": spd, "positive": positive, "onehot": onehot, "binary": binary}
    if not isinstance(shapes, dict):
        raise ParseError(f"shapes must be a dict of name → shape, got {type(shapes).__name__}")
    for flag, names in flags.items():
        if isinstance(names, str):
            flags[flag] = names = (names,)
        for name in names:
            if name not in shapes:
                raise ParseError(f"{flag} names {name!r}, which is not in shapes")
    symbols, dimensions = {}, {}
    for name, shape in shapes.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ParseError(f"a symbol name must be an identifier, got {name!r}")
        _check(check_name, name)
        if name in FUNCTIONS:
            raise ParseError(f"{name!r} is the name of a function; choose another name")
        if isinstance(shape, (str, int)) or not hasattr(shape, "__len__"):
            raise ShapeError(f"the shape of {name} must be a pair such as (1, 'n') or () for a scalar, got {shape!r}")
        on = {flag: name in names for flag, names in flags.items()}
        if len(shape) == 0:
            if on["symmetric"] or on["spd"] or on["onehot"] or on["binary"]:
                raise ParseError(f"{name} is a scalar; only 'positive' applies to scalars")
            symbols[name] = scalar(name, positive=True) if on["positive"] else scalar(name)
            continue
        if len(shape) != 2:
            raise ShapeError(f"the shape of {name} must have two dimensions, got {tuple(shape)!r}")
        rows, cols = (_dimension(name, d, dimensions) for d in shape)
        symbols[name] = matrix(name, rows, cols, **on)
    clash = sorted(set(symbols) & set(dimensions))
    if clash:
        raise ParseError(f"{clash[0]!r} is used both as a symbol and as a dimension")
    return symbols, dimensions


def _dimension(owner, value, dimensions):
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ShapeError(f"a dimension of {owner} must be an int or a name, got {value!r}")
    if isinstance(value, int) and value < 1:
        raise ShapeError(f"a dimension of {owner} must be at least 1, got {value}")
    if isinstance(value, str):
        value = value.strip()
        if not value.isidentifier():
            raise ShapeError(f"a dimension of {owner} must be an int or a name, got {value!r}")
        _check(check_dimension_name, value)
        if value in FUNCTIONS:
            raise ParseError(f"{value!r} is the name of a function; choose another dimension name")
        dimensions[value] = dim(value)
    return dim(value)


def _check(check, name):
    """A name refused by the symbols layer is a parse error of the declarations."""
    try:
        check(name)
    except InvalidNameError as error:
        raise ParseError(str(error)) from None


# ---------------------------------------------------------------- the parser

def parse(text, shapes, *, symmetric=(), spd=(), positive=(), onehot=(), binary=()):
    """Read ``text`` as a matrix expression over the symbols declared in ``shapes``.

    ``shapes`` maps each name to ``(rows, cols)`` (ints or dimension names) or to ``()`` for
    a scalar; ``symmetric``, ``spd``, ``positive``, ``onehot`` and ``binary`` list names
    carrying that assumption.  Returns a SymPy scalar or matrix expression.  Raises
    :class:`ParseError` for text that is not an expression (with line, column and a caret)
    and :class:`ShapeError` for operands whose shapes do not fit.
    """
    if not isinstance(text, str):
        raise ParseError(f"the expression must be a string, got {type(text).__name__}")
    symbols, dimensions = declare(shapes, symmetric=symmetric, spd=spd, positive=positive, onehot=onehot,
                                  binary=binary)
    return _Parser(text, symbols, dimensions).parse()


_BINARY_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "@": 2}


class _Parser:
    def __init__(self, text, symbols, dimensions):
        self.text = text
        self.symbols = symbols
        self.dimensions = dimensions
        self.depth = 0
        self.measures = {}
        if len(text) > MAX_LENGTH:
            raise ParseError(f"the expression is too long ({len(text)} characters; at most {MAX_LENGTH})")
        self.tokens = tokenize(text)
        self.index = 0
        self.declare_dimension_arguments()

    def declare_dimension_arguments(self):
        """A name given on its own as an argument of ones(...) or eye(...) is a dimension,
        declared or not (a compiled function then takes it as an int).  Read before
        parsing, so that ``k * ones(k, 1)`` may use k before its ones."""
        calls = []   # the function of each open bracket, innermost last (None: a plain bracket)
        tokens = self.tokens
        for i, token in enumerate(tokens):
            if _is_op(token, "("):
                calls.append(tokens[i - 1].text if i and tokens[i - 1].kind == "name" else None)
            elif _is_op(token, ")"):
                if calls:
                    calls.pop()
            elif (token.kind == "name" and calls and calls[-1] in _DIMENSION_FUNCTIONS
                  and _is_op(tokens[i - 1], "(", ",") and _is_op(tokens[i + 1], ",", ")")
                  and token.text not in self.symbols and token.text not in FUNCTIONS):
                self.dimensions.setdefault(token.text, dim(token.text))

    # ------------------------------------------------------------ helpers

    def error(self, message, start, length=1):
        return ParseError(message, self.text, start, length)

    def error_at(self, message, token):
        return self.error(message, token.position, max(1, len(token.text)))

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def peek(self, offset=1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.current
        if token.kind != "end":
            self.index += 1
        return token

    def at(self, text) -> bool:
        return self.current.kind == "op" and self.current.text == text

    def expect(self, text, opening=None):
        if self.at(text):
            return self.advance()
        found = self.current
        what = "the end of the expression" if found.kind == "end" else repr(found.text)
        if opening is not None:
            column = ParseError("", self.text, opening.position).column
            raise self.error_at(f"expected {text!r} to close the {opening.text!r} at column {column}, found {what}", found)
        raise self.error_at(f"expected {text!r}, found {what}", found)

    @contextmanager
    def nested(self, token):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error_at(f"expression nested too deeply (more than {MAX_DEPTH} levels)", token)
        try:
            yield
        finally:
            self.depth -= 1

    @contextmanager
    def located(self, start, length=1):
        """Give a shape error raised while building a node the position of its operator."""
        try:
            yield
        except _SympyShapeError as error:
            located = ParseError(str(error), self.text, start, length)
            raise _located_shape_error(located) from None

    def measure(self, expr) -> int:
        """The height of a SymPy tree, remembered per node so that a chain of operations
        costs little.  (Shapes need no limit: matcalc remembers each node's shape, where
        SymPy's ``c*(A*(c*(A*…)))`` would ask for them 2^depth times.)"""
        known = self.measures.get(expr)
        if known is not None:
            return known
        height = self.measures[expr] = 1 + max((self.measure(arg) for arg in expr.args), default=0)
        return height

    def checked(self, value, start, length=1):
        """Reject trees that are too deep, and scalars that are not finite real numbers or
        that have grown absurdly large."""
        if self.measure(value) > MAX_TREE_DEPTH:
            raise self.error("expression nested too deeply (its tree is too deep for SymPy to handle)", start, length)
        if isinstance(value, MatrixExpr):
            return value
        if value.is_number and value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            raise self.error("this is undefined or infinite (a division by zero, or the log of 0?)", start, length)
        # Only constants are asked: SymPy's assumption queries on expressions holding
        # matrix scalars (tanh(log det(3R))) run into its own factor_terms bug.
        if value.has(sympy.I) or (value.is_number and value.is_extended_real is False):
            raise self.error("this is not a real number", start, length)
        for number in value.atoms(sympy.Rational):
            if max(abs(number.p).bit_length(), number.q.bit_length()) > MAX_NUMBER_BITS:
                raise self.error("a number in this expression is too large", start, length)
        return value

    # ------------------------------------------------------------ grammar

    def parse(self) -> object:
        if self.current.kind == "end":
            raise self.error("the expression is empty", 0)
        result = self.expression()
        if self.current.kind != "end":
            token = self.current
            raise self.error_at(f"unexpected {token.text!r} after a complete expression", token)
        return result.value

    def expression(self, min_precedence=1) -> Operand:
        """Precedence climbing over the left-associative binary operators."""
        left = self.unary()
        while self.current.kind == "op" and _BINARY_PRECEDENCE.get(self.current.text, 0) >= min_precedence:
            operator = self.advance()
            right = self.expression(_BINARY_PRECEDENCE[operator.text] + 1)
            left = self.binary(operator, left, right)
        return left

    def unary(self) -> Operand:
        token = self.current
        if self.at("-") or self.at("+"):
            with self.nested(token):
                self.advance()
                operand = self.unary()
            value = -operand.value if token.text == "-" else operand.value
            return Operand(self.checked(value, token.position), token.position, operand.end)
        return self.power()

    def power(self) -> Operand:
        base = self.postfix()
        if not self.at("**"):
            return base
        operator = self.advance()
        with self.nested(operator):
            exponent = self.unary()   # right-associative, and 2 ** -1 is allowed, as in Python
        return Operand(self.checked(self.raise_to(operator, base, exponent), operator.position, 2),
                       base.start, exponent.end)

    def postfix(self) -> Operand:
        operand = self.primary()
        while self.at("."):
            dot = self.advance()
            attribute = self.current
            if attribute.kind != "name":
                raise self.error_at("expected an attribute name such as T after '.'", attribute)
            self.advance()
            if attribute.text != "T":
                hint = "; use inv(...) for the inverse" if attribute.text == "I" else ""
                raise self.error(f"unknown attribute .{attribute.text}: only .T (transpose) is supported{hint}",
                                 dot.position, attribute.position + len(attribute.text) - dot.position)
            value = algebra.transpose(operand.value) if operand.is_matrix else operand.value
            operand = Operand(self.checked(value, dot.position, 2), operand.start, attribute.position + 1)
        return operand

    def primary(self) -> Operand:
        token = self.current
        if token.kind == "number":
            self.advance()
            return Operand(self.number(token), token.position, token.position + len(token.text))
        if token.kind == "name":
            if self.peek().kind == "op" and self.peek().text == "(":
                return self.call()
            self.advance()
            return Operand(self.lookup(token), token.position, token.position + len(token.text))
        if self.at("("):
            with self.nested(token):
                self.advance()
                inner = self.expression()
                closing = self.expect(")", opening=token)
            return Operand(inner.value, token.position, closing.position + 1)
        if token.kind == "end":
            raise self.error_at("the expression ends too early: expected a name, a number or '('", token)
        raise self.error_at(f"expected a name, a number or '(', found {token.text!r}", token)

    # ------------------------------------------------------------ leaves

    def number(self, token):
        text = token.text
        mantissa, _, exponent = text.lower().partition("e")
        digits = len(mantissa.replace(".", "").lstrip("0"))
        if digits > 1000 or len(exponent.lstrip("+-0")) > 3:
            raise self.error_at("this number is too large or too precise", token)
        value = Fraction(text)
        if abs(value) > sys.float_info.max:
            raise self.error_at("this number is too large for floating point (the largest is about 1.8e308)", token)
        if value.denominator == 1:
            return sympy.Integer(value.numerator)
        return sympy.Rational(value.numerator, value.denominator)

    def lookup(self, token):
        name = token.text
        if name in self.symbols:
            return self.symbols[name]
        if name in self.dimensions:
            return self.dimensions[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            raise self.error_at(f"{name} is a function: call it, as in {name}(...)", token)
        raise self.error_at(self.unknown_name_message(name), token)

    def unknown_name_message(self, name):
        known = sorted(self.symbols) + sorted(self.dimensions)
        message = f"unknown name {name!r}"
        close = difflib.get_close_matches(name, known, n=1)
        if name in ("np", "numpy", "jnp", "torch", "math", "sympy"):
            message += ": call functions without a prefix, e.g. exp(X)"
        elif close:
            message += f": did you mean {close[0]!r}?"
        elif known:
            message += f"; declared names are {', '.join(known)}"
        else:
            message += "; no names are declared (give their shapes)"
        return message

    # ------------------------------------------------------------ calls

    def call(self) -> Operand:
        name = self.advance()
        opening = self.advance()
        if name.text not in FUNCTIONS:
            if name.text in self.symbols or name.text in self.dimensions:
                raise self.error_at(f"{name.text!r} is a declared symbol, not a function", name)
            message = f"unknown function {name.text!r}"
            close = difflib.get_close_matches(name.text, list(FUNCTIONS), n=1)
            message += f": did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(FUNCTIONS))}"
            raise self.error_at(message, name)
        arguments, keywords = [], {}
        with self.nested(name):
            if not self.at(")"):
                while True:
                    if self.current.kind == "name" and self.peek().kind == "op" and self.peek().text == "=":
                        keyword = self.advance()
                        self.advance()
                        if keyword.text in keywords:
                            raise self.error_at(f"keyword argument {keyword.text!r} given twice", keyword)
                        keywords[keyword.text] = (keyword, self.expression())
                    else:
                        if keywords:
                            raise self.error_at("a positional argument cannot follow a keyword argument", self.current)
                        arguments.append(self.expression())
                    if not self.at(","):
                        break
                    self.advance()
            closing = self.expect(")", opening=opening)
        span = (name.position, closing.position + 1)
        function = FUNCTIONS[name.text]
        value = function(self, name, arguments, keywords, span)
        return Operand(self.checked(value, span[0], span[1] - span[0]), *span)

    # ------------------------------------------------------------ operators

    def binary(self, operator, left, right) -> Operand:
        start, length = operator.position, len(operator.text)
        if operator.text == "@":
            value = self.matmul(operator, left, right)
        else:
            value = self.broadcast(operator, left, right)
        return Operand(self.checked(value, start, length), left.start, right.end)

    def matmul(self, operator, left, right):
        for side in (left, right):
            if not side.is_matrix:
                raise self.error(f"'@' multiplies matrices, but {side.value} is a scalar: use '*' to scale",
                                 operator.position)
        with self.located(operator.position):
            product = algebra.mul(left.value, right.value)
        return _explicit(product, (left.value.shape[0], right.value.shape[1]))

    def broadcast(self, operator, left, right):
        """``+ - * /`` with NumPy broadcasting between scalars, vectors and matrices."""
        op = operator.text
        a, b = left.value, right.value
        if op == "/" and self.is_zero(b):
            raise self.error("division by zero", operator.position)
        # A 1×1 matrix meeting a larger matrix acts as the scalar it holds.
        if left.is_matrix and right.is_matrix:
            if a.shape == (1, 1) and b.shape != (1, 1):
                a = algebra.as_scalar(a)
            elif b.shape == (1, 1) and a.shape != (1, 1):
                b = algebra.as_scalar(b)
        a_matrix, b_matrix = isinstance(a, MatrixExpr), isinstance(b, MatrixExpr)
        shape = a.shape if a_matrix else b.shape if b_matrix else None
        if a_matrix and b_matrix:
            shape = self.broadcast_shape(operator, a, b)
        with self.located(operator.position):
            return _explicit(self._combine(op, a, b, a_matrix, b_matrix, operator), shape)

    def _combine(self, op, a, b, a_matrix, b_matrix, operator):
        if not a_matrix and not b_matrix:
            return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[op]()
        if op == "*" and not (a_matrix and b_matrix):
            return algebra.mul(a, b)
        if op == "/" and not b_matrix:
            return algebra.mul(a, 1 / b)
        if op == "/":
            b = algebra.power(b, -1)
        if not a_matrix:        # scalar + M, scalar / M
            if op == "/":
                return algebra.mul(a, b)
            a = _explicit(algebra.mul(a, algebra.build(OneMatrix, *b.shape)), b.shape)
        if not b_matrix:        # M + scalar
            b = _explicit(algebra.mul(b, algebra.build(OneMatrix, *a.shape)), a.shape)
        shape = self.broadcast_shape(operator, a, b)
        a, b = _stretch(a, shape), _stretch(b, shape)
        if op == "+":
            return algebra.add(a, b)
        if op == "-":
            return algebra.add(a, algebra.neg(b))
        return algebra.hadamard(a, b)

    def broadcast_shape(self, operator, a, b):
        shape = []
        for axis, (m, n) in enumerate(zip(a.shape, b.shape)):
            if m == n or n == 1:
                shape.append(m)
            elif m == 1:
                shape.append(n)
            else:
                what = "rows" if axis == 0 else "columns"
                raise _located_shape_error(self.error(
                    f"cannot broadcast {_describe(a)} and {_describe(b)} for '{operator.text}': "
                    f"{m} {what} against {n}", operator.position))
        return tuple(shape)

    def raise_to(self, operator, base, exponent):
        if exponent.is_matrix:
            raise self.error(f"the exponent must be a number, not the matrix {_describe(exponent.value)}; "
                             "for a matrix power write the products with '@'", operator.position, 2)
        power = exponent.value
        if base.is_matrix:
            # entry by entry, to a number or a scalar expression such as a declared scalar p
            if power.is_number and power.is_negative and isinstance(base.value, ZeroMatrix):
                raise self.error("division by zero", operator.position, 2)
            return algebra.power(base.value, power)
        if base.value.is_number and power.is_number:
            if base.value == 0:
                if power.is_negative:
                    raise self.error("division by zero", operator.position, 2)
            elif abs(float(power)) * abs(float(sympy.log(abs(base.value), 2).evalf(15))) > MAX_NUMBER_BITS:
                # SymPy would compute the exact number: 9 ** 9 ** 9 never finishes
                raise self.error("this power is too large to compute", operator.position, 2)
        return base.value ** power

    @staticmethod
    def is_zero(value):
        return isinstance(value, ZeroMatrix) or (not isinstance(value, MatrixExpr) and value == 0)

    # ------------------------------------------------------------ argument checks for the table

    def matrix_argument(self, name, argument):
        if not argument.is_matrix:
            raise self.error(f"{name.text} takes a matrix, but {_describe(argument.value)} is a scalar",
                             argument.start, argument.end - argument.start)
        return argument.value

    def dimension_argument(self, name, argument):
        value = argument.value
        is_dimension = isinstance(value, sympy.Symbol) and value in self.dimensions.values()
        if not (is_dimension or (isinstance(value, sympy.Integer) and value >= 1)):
            raise self.error(f"{name.text} takes dimensions (positive integers or dimension names), got {value}",
                             argument.start, argument.end - argument.start)
        return value

    def axis_argument(self, name, keywords, arguments, allowed=("axis",)):
        for keyword, (token, _) in keywords.items():
            if keyword not in allowed:
                raise self.error_at(f"{name.text} has no keyword argument {keyword!r}", token)
        if "axis" in keywords:
            argument = keywords["axis"][1]
        elif len(arguments) == 2:
            argument = arguments[1]
        else:
            return None
        value = argument.value
        if not (isinstance(value, sympy.Integer) and -2 <= value <= 1):
            raise self.error(f"axis must be 0, 1, -1 or -2, got {value}", argument.start,
                             argument.end - argument.start)
        return int(value) % 2


def _explicit(value, shape):
    """A whole expression for the parser's result: the constructors prune a zero to None
    (nothing to carry through a derivative); the text means an explicit zero matrix."""
    if value is not None:
        return value
    return ZeroMatrix(*shape) if shape is not None else sympy.S.Zero


def _stretch(value, shape):
    """Broadcast ``value`` to ``shape``: a row repeated over rows is 1b, a column over columns c1ᵀ."""
    rows, cols = value.shape
    if isinstance(value, ZeroMatrix):
        return ZeroMatrix(*shape)
    if rows != shape[0]:
        value = algebra.mul(algebra.build(OneMatrix, shape[0], 1), value)
    if cols != shape[1]:
        value = algebra.mul(value, algebra.build(OneMatrix, 1, shape[1]))
    return value


def _located_shape_error(error: ParseError) -> ShapeError:
    """A ShapeError whose message shows where in the text it happened (line, column, caret)."""
    shape_error = ShapeError(str(error))
    shape_error.message, shape_error.text = error.message, error.text
    shape_error.position, shape_error.line, shape_error.column = error.position, error.line, error.column
    return shape_error


# ---------------------------------------------------------------- the function table

def _check_arity(parser, name, arguments, keywords, low, high, span):
    count = len(arguments) + len(keywords)
    if not low <= count <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise parser.error(f"{name.text} takes {expected} argument{'s' if high != 1 else ''}, got {count}",
                           span[0], span[1] - span[0])


def _unary_matrix_function(build):
    """A table entry for f(X) on one matrix (shape errors point at the function name)."""
    def call(parser, name, arguments, keywords, span):
        _check_arity(parser, name, arguments, keywords, 1, 1, span)
        if keywords:
            raise parser.error_at(f"{name.text} takes no keyword arguments", name)
        X = parser.matrix_argument(name, arguments[0])
        with parser.located(name.position, len(name.text)):
            return build(X)
    return call


def _elementwise_function(build):
    """A table entry for f applied entry by entry; on a scalar it is the scalar function."""
    def call(parser, name, arguments, keywords, span):
        _check_arity(parser, name, arguments, keywords, 1, 1, span)
        if keywords:
            raise parser.error_at(f"{name.text} takes no keyword arguments", name)
        return build(arguments[0].value)
    return call


def _matrix_and_axis(parser, name, arguments, keywords, span):
    """(X, axis) of a call ``f(X)``, ``f(X, axis)`` or ``f(X, axis=…)``."""
    _check_arity(parser, name, arguments, keywords, 1, 2, span)
    axis = parser.axis_argument(name, keywords, arguments)
    if not arguments:
        raise parser.error(f"{name.text} needs a matrix argument", *span)
    return parser.matrix_argument(name, arguments[0]), axis


def _along_axis(build):
    """softmax / logsumexp: row-wise by default (column-wise for a column vector), or ``axis``."""
    def call(parser, name, arguments, keywords, span):
        return build(*_matrix_and_axis(parser, name, arguments, keywords, span))
    return call


def _reduction(mean):
    """sum / mean of all entries, or along an axis as NumPy does (keeping two dimensions)."""
    def call(parser, name, arguments, keywords, span):
        X, axis = _matrix_and_axis(parser, name, arguments, keywords, span)
        rows, cols = X.shape
        if axis is None:
            return functions.mean(X) if mean else functions.sum(X)
        total_shape = (1, cols) if axis == 0 else (rows, 1)
        if axis == 0:   # down the columns: 1ᵀX, a 1×cols row
            total, count = algebra.mul(algebra.build(OneMatrix, 1, rows), X), rows
        else:           # along the rows: X1, a rows×1 column
            total, count = algebra.mul(X, algebra.build(OneMatrix, cols, 1)), cols
        return _explicit(algebra.mul(1 / count, total) if mean else total, total_shape)
    return call


def _dimensions_function(count, build):
    def call(parser, name, arguments, keywords, span):
        _check_arity(parser, name, arguments, keywords, count, count, span)
        if keywords:
            raise parser.error_at(f"{name.text} takes no keyword arguments", name)
        return build(*(parser.dimension_argument(name, a) for a in arguments))
    return call


def _diag(parser, name, arguments, keywords, span):
    """diag(v) of a vector is the diagonal matrix; diag(A) of a square matrix is its diagonal
    as an n×1 column (NumPy's extraction, kept two-dimensional)."""
    _check_arity(parser, name, arguments, keywords, 1, 1, span)
    if keywords:
        raise parser.error_at(f"{name.text} takes no keyword arguments", name)
    X = parser.matrix_argument(name, arguments[0])
    rows, cols = X.shape
    with parser.located(name.position, len(name.text)):
        if rows == 1 or cols == 1:
            return functions.diag(X)
        if rows == cols:
            return DiagonalOf(X)
        raise ShapeError(f"diag takes a vector or a square matrix, got {_describe(X)}")


def _pair(build):
    """maximum / minimum of two operands, broadcast as ``+`` is (a scalar, a row or a column
    meeting a matrix)."""
    def call(parser, name, arguments, keywords, span):
        _check_arity(parser, name, arguments, keywords, 2, 2, span)
        if keywords:
            raise parser.error_at(f"{name.text} takes no keyword arguments", name)
        a, b = (argument.value for argument in arguments)
        if isinstance(a, MatrixExpr) and isinstance(b, MatrixExpr):
            if a.shape == (1, 1) and b.shape != (1, 1):
                a = algebra.as_scalar(a)
            elif b.shape == (1, 1) and a.shape != (1, 1):
                b = algebra.as_scalar(b)
        if isinstance(a, MatrixExpr) and isinstance(b, MatrixExpr):
            shape = parser.broadcast_shape(name, a, b)
            a, b = _stretch(a, shape), _stretch(b, shape)
        with parser.located(name.position, len(name.text)):
            return build(a, b)
    return call


def _extreme(build):
    """max / min of all entries, or along an axis as NumPy does (keeping two dimensions)."""
    def call(parser, name, arguments, keywords, span):
        X, axis = _matrix_and_axis(parser, name, arguments, keywords, span)
        return build(X, axis)
    return call


def _norm(parser, name, arguments, keywords, span):
    """norm(X) or norm(X, p) for p = 1 or 2 (entrywise for a matrix: 2 is Frobenius)."""
    _check_arity(parser, name, arguments, keywords, 1, 2, span)
    for keyword, (token, _) in keywords.items():
        if keyword != "ord":
            raise parser.error_at(f"norm has no keyword argument {keyword!r}; write norm(x, 1)", token)
    X = parser.matrix_argument(name, arguments[0])
    given = keywords["ord"][1] if "ord" in keywords else arguments[1] if len(arguments) == 2 else None
    if given is None:
        return functions.norm(X)
    p = given.value
    if p not in (1, 2):
        raise parser.error(f"norm takes p = 1 or 2, got {p} (the largest |entry| is max(abs(x)))",
                           given.start, given.end - given.start)
    return functions.norm(X, p)


CONSTANTS = {"pi": sympy.pi, "e": sympy.E}
"""Names that mean a number unless a shape declares them (a symbol ``e`` stays a symbol)."""

_DIMENSION_FUNCTIONS = ("ones", "eye")
"""The functions whose arguments are dimensions."""

FUNCTIONS = {
    "trace": _unary_matrix_function(functions.trace),
    "det": _unary_matrix_function(functions.det),
    "logdet": _unary_matrix_function(functions.logdet),
    "inv": _unary_matrix_function(functions.inv),
    "norm": _norm,
    "diag": _diag,
    "exp": _elementwise_function(functions.exp),
    "log": _elementwise_function(functions.log),
    "tanh": _elementwise_function(functions.tanh),
    "sigmoid": _elementwise_function(functions.sigmoid),
    "relu": _elementwise_function(functions.relu),
    "sqrt": _elementwise_function(functions.sqrt),
    **{name: _elementwise_function(getattr(functions, name)) for name in (
        "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "abs", "sign",
        "softplus", "log1p", "expm1", "erf", "gelu", "logsigmoid", "square", "reciprocal", "step")},
    "maximum": _pair(functions.maximum),
    "minimum": _pair(functions.minimum),
    "max": _extreme(functions.max),
    "min": _extreme(functions.min),
    "softmax": _along_axis(functions.softmax),
    "logsumexp": _along_axis(functions.logsumexp),
    "sum": _reduction(mean=False),
    "mean": _reduction(mean=True),
    "eye": _dimensions_function(1, functions.eye),
    "ones": _dimensions_function(2, functions.ones),
}
"""Every function the syntax knows: name → table entry ``(parser, name, args, keywords, span)``."""

