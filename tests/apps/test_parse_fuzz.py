"""Fuzzing the text syntax: whatever the text, parse returns an expression or raises a
ParseError / ShapeError, and nothing in the text is ever evaluated.

Thousands of strings: arbitrary Unicode, soups of the syntax's own tokens, mutations of
valid expressions, and hand-picked hostile inputs (code injection, deep nesting, huge
numbers, odd Unicode).  While fuzzing, Python's and SymPy's evaluators are wrapped so that
any call that receives the fuzzed text fails the test.
"""
import builtins
import importlib
import time

import pytest
import sympy
import sympy.parsing.sympy_parser
from hypothesis import HealthCheck, given, settings, strategies as st
from sympy.matrices.expressions import MatrixExpr

import matcalc as mc
from matcalc.errors import MatcalcError, ParseError, ShapeError

SHAPES = {"x": (1, "n"), "v": ("n", 1), "A": ("n", "n"), "B": ("n", "m"), "X": ("N", "d"),
          "W": ("d", "K"), "b": (1, "K"), "Y": ("N", "K"), "s": (), "u": (1, 1)}

VALID = [
    "x @ A @ x.T", "-sum(Y * log(softmax(X @ W + b))) / N", "norm(A @ v - v) ** 2",
    "trace(inv(A) @ B @ B.T)", "logdet(A) + det(A) * s", "sigmoid(X @ W + b) * (1 - sigmoid(X @ W + b))",
    "mean(relu(X @ W), axis=0) - b", "exp(-A / 2) + eye(n) @ A", "logsumexp(X @ W + b) - u",
    "sqrt(A ** 2 + 1e-8) / s", "diag(x) @ A @ v", "ones(N, 1).T @ tanh(X @ W)",
]

TOKENS = ["x", "v", "A", "B", "X", "W", "b", "Y", "s", "u", "n", "N", "K", "Q", "T", "1", "0", "2.5",
          "1e308", "-", "+", "*", "/", "@", "**", "(", ")", ",", ".", ".T", "=", "axis", " ",
          "\n", "exp", "log", "sum", "softmax", "trace", "inv", "ones", "eye", "diag", "norm",
          "sqrt", "logdet", "sigmoid", "relu", "mean", "logsumexp", "det", "tanh", "'", "[", "]",
          "__import__", "lambda", "os", "λ", "ｘ", "\u200b", "\x00"]

HOSTILE = [
    "__import__('os').system('echo hi')",
    "__import__(\"os\").system(\"touch /tmp/matcalc-pwned\")",
    "eval('1+1')", "exec('import os')", "open('/etc/passwd').read()",
    "().__class__.__bases__[0].__subclasses__()", "x.__class__.__mro__", "A.T.__dict__",
    "lambda: 0", "globals()", "x; import os", "x if A else B", "[x for x in A]", "{'a': 1}",
    "Symbol('x')", "Integer(1)", "sympify('1')", "S.One", "x.__init__.__globals__",
    "9**9**9**9", "10**10**10", "2**99999999999", "(9**999)**999", "1e99999999", "0.1e-99999999",
    "9" * 5000, "1" + "0" * 1200, "1." + "1" * 1500, "1e" + "9" * 5000,
    "(" * 1000 + "x" + ")" * 1000, "-" * 5000 + "x", "exp(" * 500 + "A" + ")" * 500,
    "x.T" * 2000, "x" + ".T" * 3000, "A @ " * 900 + "A", "A * " * 900 + "A",
    "A/s/" * 200 + "A", "A@A*" * 400 + "A", "sigmoid(2*" * 60 + "A" + ")" * 60,
    "x\x00", "\ufeffx", "x\u202e@A", "𝐱 @ A", "x @ Α", "ⅹ", "x²", "٣ * A", "１ * A", "½ * A",
    "A\u0301", "🙂", "\udcff", "x @ A @ x.T" * 300, "log(0)", "1/0", "0**-1", "sqrt(-4)",
    "(-8)**(1/3)", "A ** (1/0)", "A / (s - s)", "A / (n - n)", "softmax(A, axis=s)",
    "ones(0, 1)", "ones(-1, 1)", "eye(2.5)", "ones(n, 10**100)", "sum(A, axis=10**100)",
    "", " ", "\n\n", "()", "(,)", "f()", "exp()", "exp(,)", "exp(A,)", "sum(A, axis=)",
    "sum(A, axis=0, axis=1)", "x.", "x..T", ".T", "@", "**", "A ** ", "A **** 2",
    "\t x \t", "x\r\n@ A", "\\x", "`x`", "$x", "x # comment", "x ; A",
]


class _Watch:
    """Wrap eval/exec/sympify/parse_expr; record any call that receives the fuzzed text."""

    def __init__(self, monkeypatch):
        self.text = None
        self.leaks = []
        # sympify imports parse_expr from its module on every call with a string, so the
        # last wrapper catches text reaching SymPy's parser by any route
        for owner, name in ((builtins, "eval"), (builtins, "exec"), (sympy, "sympify"),
                            (importlib.import_module("sympy.core.sympify"), "sympify"),
                            (sympy.parsing.sympy_parser, "parse_expr")):
            monkeypatch.setattr(owner, name, self._wrap(getattr(owner, name), name))

    def _wrap(self, original, name):
        def watched(*args, **kwargs):
            for value in list(args) + list(kwargs.values()):
                if isinstance(value, str) and self.text and value and value in self.text:
                    self.leaks.append((name, value))
            return original(*args, **kwargs)
        return watched


@pytest.fixture
def watch(monkeypatch):
    return _Watch(monkeypatch)


def check(text, watch=None):
    """The fuzz property: an expression, or a located ParseError / ShapeError; nothing else."""
    if watch is not None:
        watch.text = text
    started = time.perf_counter()
    try:
        result = mc.parse(text, SHAPES)
    except (ParseError, ShapeError) as error:
        assert isinstance(error, MatcalcError)
        rendered = str(error)                       # rendering the caret never fails
        assert rendered and error.message
        if isinstance(error, ParseError) and error.text:
            assert 1 <= error.line and 1 <= error.column
            assert "^" in rendered.splitlines()[-1]
    else:
        assert isinstance(result, (MatrixExpr, sympy.Expr))
        str(result)                                 # printable: no 4300-digit integers inside
    elapsed = time.perf_counter() - started
    assert elapsed < 5, f"parsing took {elapsed:.1f} s"
    if watch is not None:
        assert not watch.leaks, f"text reached an evaluator: {watch.leaks[:3]}"


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_inputs(text, watch, tmp_path):
    check(text, watch)


def test_injection_runs_nothing(tmp_path, watch):
    target = tmp_path / "pwned"
    for text in (f"__import__('os').system('touch {target}')", f"open('{target}', 'w')"):
        with pytest.raises(ParseError):
            mc.parse(text, SHAPES)
    assert not target.exists()


def fuzz(examples):
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@fuzz(1500)
@given(st.text(max_size=60))
def test_arbitrary_unicode(watch, text):
    check(text, watch)


@fuzz(2000)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_token_soup(watch, text):
    check(text, watch)


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        piece = draw(st.one_of(st.sampled_from(TOKENS), st.characters()))
        if action == "insert":
            text = text[:position] + piece + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 5)):]
        elif action == "replace":
            text = text[:position] + piece + text[position + 1:]
        else:
            end = draw(st.integers(position, len(text)))
            text = text[:position] + text[position:end] * draw(st.integers(2, 6)) + text[end:]
    return text


@fuzz(2000)
@given(mutated())
def test_mutated_expressions(watch, text):
    check(text, watch)


@pytest.mark.parametrize("text", VALID)
def test_the_seeds_of_the_mutations_parse(text):
    assert isinstance(mc.parse(text, SHAPES), (MatrixExpr, sympy.Expr))


def test_the_watch_catches_text_reaching_sympify(watch, monkeypatch):
    """The guard above can fail: a parser that handed its text to SymPy would be caught."""
    monkeypatch.setattr(mc, "parse", lambda text, shapes: sympy.sympify(text))
    with pytest.raises(AssertionError, match="reached an evaluator"):
        check("1 + 2", watch)
