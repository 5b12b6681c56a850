"""Differential testing of matcalc against JAX autodiff, on random typed expressions.

A library, used by ``tests/test_differential.py`` (a fixed-seed slice for CI) and by
``scripts/differential.py`` (the long run).  No test functions live here.

* :class:`Generator` draws random, well-typed expression trees over matrices (r×c), row
  vectors (1×n), column vectors (n×1), 1×1 values and declared scalars (shape ``()``),
  from every function and operator of the text syntax.  Everything it knows about a
  construct is one row of :data:`TABLE` (typing, text, JAX meaning, domain, kinks), so a
  new function (``sin``, ``abs``, ``maximum`` …) is one more row.
* Each tree is emitted twice: as text for ``mc.parse`` and as a JAX function composed of
  Python closures (:func:`build_jax`); no string is ever evaluated.
* :func:`run_case` parses the text, compiles its value and its derivatives with matcalc
  (``gradient`` of scalar functions with respect to each matrix symbol, ``jacobian`` of
  vector functions with respect to vector symbols, ``hessian`` of scalar functions with
  respect to a vector symbol) and compares them with ``jax.grad`` / ``jax.jacobian`` /
  ``jax.hessian``.  Each check is PASS, WRONG, REFUSED, CRASH, SLOW (or SKIP when JAX
  itself is not finite there, or a kink of relu is too close).
* :class:`Summary` counts outcomes overall and by family and keeps the shortest
  reproducer of each family; :func:`shrink` makes a failing case smaller.
"""
from __future__ import annotations

import functools
import os
import random
import re
import signal
import threading
import time
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Optional

import numpy as np

import jax
import jax.numpy as jnp
import jax.scipy.special

import matcalc as mc

jax.config.update("jax_enable_x64", True)

__all__ = [
    "TABLE", "Row", "Node", "Case", "Check", "Outcome", "Generator", "Summary",
    "generate_case", "make_case", "run_case", "shrink", "accepted_names", "refused_names",
    "sym", "num", "dimension", "call", "op",
    "PASS", "WRONG", "REFUSED", "CRASH", "SLOW", "SKIP",
]

PASS, WRONG, REFUSED, CRASH, SLOW, SKIP = "PASS", "WRONG", "REFUSED", "CRASH", "SLOW", "SKIP"
FAILURES = (WRONG, CRASH, SLOW)

RTOL = 1e-7
"""Relative tolerance of every comparison, relative to max(|matcalc|, |jax|, 1) entry by entry."""

KINK_DISTANCE = 1e-7
"""Derivatives are not compared at points where a kinked row's argument is this close to its kink."""

HUGE = 1e6
"""Points where the JAX value is larger than this are redrawn: they test overflow, not calculus."""

MATCALC_DIR = os.path.dirname(os.path.abspath(mc.__file__))

SCALAR = ()


# ====================================================================== types

def is_scalar(t) -> bool:
    return t == SCALAR


def is_vector(t) -> bool:
    """A row or column vector (1×1 counts as a vector too: it has a 1)."""
    return len(t) == 2 and (t[0] == 1 or t[1] == 1)


def is_square(t) -> bool:
    return len(t) == 2 and t[0] == t[1]


def default_axis(t) -> int:
    """matcalc's default axis of softmax/logsumexp: down a column vector, else along rows."""
    rows, cols = t
    return 0 if (cols == 1 and rows != 1) else 1


def broadcast_type(a, b):
    """The type of ``a (+ - * /) b`` under NumPy broadcasting (None if they do not fit)."""
    if is_scalar(a):
        return b
    if is_scalar(b):
        return a
    if a == (1, 1):
        return b
    if b == (1, 1):
        return a
    shape = []
    for m, n in zip(a, b):
        if m == n or n == 1:
            shape.append(m)
        elif m == 1:
            shape.append(n)
        else:
            return None
    return tuple(shape)


def type_text(t) -> str:
    return "scalar" if is_scalar(t) else f"{t[0]}×{t[1]}"


# ====================================================================== trees

@dataclass(eq=False)
class Node:
    """One node: ``row`` is a key of :data:`TABLE`; ``params`` hold what is not a
    sub-expression (a symbol's name, a number's spelling, an axis, an exponent …)."""
    row: str
    args: tuple
    type: tuple
    params: dict = field(default_factory=dict)

    def walk(self):
        yield self
        for a in self.args:
            yield from a.walk()

    def size(self) -> int:
        return sum(1 for _ in self.walk())


# ---------------------------------------------------------------------- text

def render(node: Node) -> str:
    return _render(node)[0]


def _render(node: Node):
    row = TABLE[node.row]
    pieces = []
    for i, child in enumerate(node.args):
        text, prec = _render(child)
        need = row.arg_prec[i] if isinstance(row.arg_prec, tuple) else row.arg_prec
        if prec < need or child.params.get("paren"):
            text, prec = f"({text})", 6
        pieces.append(text)
    return row.text(pieces, node.params), row.prec


# ---------------------------------------------------------------------- JAX

class Context:
    """What a JAX closure sees: symbol values, dimension sizes and (when probing) a list
    that kinked rows append their distance-to-kink to."""

    def __init__(self, env, sizes, probe=None):
        self.env = env
        self.sizes = sizes
        self.probe = probe

    def size(self, d) -> int:
        return d if isinstance(d, int) else self.sizes[d]


def build_jax(node: Node) -> Callable:
    """The tree as a JAX function of a :class:`Context`, composed of closures."""
    row = TABLE[node.row]
    subs = [build_jax(a) for a in node.args]
    params = node.params
    compute, kink = row.jax, row.kink

    def evaluate(ctx):
        values = [s(ctx) for s in subs]
        if kink is not None and ctx.probe is not None:
            ctx.probe.append(jnp.min(jnp.abs(jnp.asarray(kink(values, params)))))
        return compute(values, params, ctx)
    return evaluate


# ====================================================================== the table

@dataclass(frozen=True)
class Row:
    """Everything the harness knows about one function, operator or leaf of the syntax.

    * ``propose(gen, type, domain)`` → ``(args, params)`` or None: how to build a value of
      ``type`` satisfying ``domain`` ("any", "positive", "spd", "invertible") with this row,
      as a list of (argument type, argument domain) and the node's parameters;
    * ``infer(arg_types, params)`` → the result type (bottom-up, for hand-built trees);
    * ``text(arg_texts, params)`` → its spelling; ``prec`` its precedence and ``arg_prec``
      the least precedence an argument may have without brackets;
    * ``jax(arg_values, params, ctx)`` → its value in JAX;
    * ``domain``: where it is defined (documentation; ``propose`` enforces it);
    * ``kinked``/``kink(arg_values, params)``: not differentiable where kink(...) is 0.
    """
    name: str
    propose: Callable
    infer: Callable
    text: Callable
    jax: Callable
    prec: int = 6
    arg_prec: object = 0
    domain: str = "everywhere"
    kinked: bool = False
    kink: Optional[Callable] = None
    weight: float = 1.0
    leaf: bool = False
    syntax: bool = True       # False for leaves that are not a function/operator of the syntax


ANY, POSITIVE, SPD, INVERTIBLE = "any", "positive", "spd", "invertible"
UNIT = "unit"   # entries in (−1, 1): the generator builds tanh(…) there (arcsin, arccos, tan)


def _call_text(name):
    return lambda a, p: f"{name}({', '.join(a)})"


def elementwise(name, fn, *, arg_domain=ANY, produces=(ANY,), kinked=False, kink=None, weight=1.0):
    """A row for f applied entry by entry (on a scalar, the scalar function).

    ``arg_domain`` is what its argument must satisfy ("positive" for log and sqrt);
    ``produces`` the domains its result satisfies when the argument does."""
    def propose(gen, t, domain):
        if domain not in produces:
            return None
        return [(t, arg_domain)], {}
    return Row(name, propose, lambda ts, p: ts[0], _call_text(name), lambda v, p, c: fn(v[0]),
               domain=f"argument {arg_domain}" if arg_domain != ANY else "everywhere",
               kinked=kinked, kink=kink, weight=weight)


def broadcast_function(name, fn, *, arg_domain=ANY, produces=(ANY,), kinked=False, kink=None, weight=1.0):
    """A row for a two-argument elementwise function with NumPy broadcasting, such as
    ``maximum(A, B)``."""
    def propose(gen, t, domain):
        if domain not in produces:
            return None
        a, b = gen.broadcast_pair(t)
        return [(a, arg_domain), (b, arg_domain)], {}
    return Row(name, propose, lambda ts, p: broadcast_type(*ts), _call_text(name),
               lambda v, p, c: fn(v[0], v[1]), kinked=kinked, kink=kink, weight=weight)


# ---------------------------------------------------------------------- leaves

def _symbol_propose(gen, t, domain):
    if is_scalar(t):
        flag = "positive" if domain == POSITIVE or gen.rng.random() < 0.15 else None
    elif domain in (SPD, INVERTIBLE):
        flag = "spd"
    elif domain == POSITIVE:
        flag = "positive"
    else:
        flag = gen.rng.choice(["positive"] + [None] * 6 + (["spd"] if is_square(t) and t != (1, 1) else []))
    return [], {"name": gen.symbol(t, flag), "shape": t, "flag": flag}


def _number_propose(gen, t, domain):
    if not is_scalar(t):
        return None
    choices = NUMBERS if domain == ANY else [n for n in NUMBERS if n[1] > 0]
    text, value = gen.rng.choice(choices)
    return [], {"text": text, "value": value}


NUMBERS = [("0", 0), ("1", 1), ("2", 2), ("3", 3), ("10", 10), ("0.5", 0.5), (".5", 0.5), ("5e-1", 0.5),
           ("1.5", 1.5), ("0.25", 0.25), ("2.0", 2.0), ("1e-1", 0.1), ("2.5E0", 2.5), ("1e1", 10.0),
           ("0.1", 0.1), ("3.", 3.0)]


def _dim_propose(gen, t, domain):
    names = [d for d in gen.dims if isinstance(d, str)]
    if not is_scalar(t) or not names:
        return None
    return [], {"name": gen.rng.choice(names)}


def _eye_propose(gen, t, domain):
    if is_scalar(t) or not is_square(t) or domain == POSITIVE and t != (1, 1):
        return None
    return [], {"dims": (t[0],)}


def _ones_propose(gen, t, domain):
    if is_scalar(t) or domain in (SPD, INVERTIBLE) and t != (1, 1):
        return None
    return [], {"dims": t}


# ---------------------------------------------------------------------- functions

def _softmax_propose(gen, t, domain):
    if is_scalar(t) or domain not in (ANY, POSITIVE):
        return None
    axis = gen.rng.choice([None, None, 0, 1])
    return [(t, ANY)], {"axis": axis, "axis_text": gen.axis_text(axis)}


def _axis_of(t, params):
    return default_axis(t) if params.get("axis") is None else params["axis"]


def _logsumexp_infer(ts, p):
    rows, cols = ts[0]
    return (rows, 1) if _axis_of(ts[0], p) == 1 else (1, cols)


def _logsumexp_propose(gen, t, domain):
    if is_scalar(t) or domain != ANY or not is_vector(t):
        return None
    rows, cols = t
    options = []
    if cols == 1:      # (rows, 1) = logsumexp over the columns of (rows, k)
        for k in gen.dim_choices():
            arg = (rows, k)
            options.append((arg, 1))
    if rows == 1:      # (1, cols) = logsumexp over the rows of (k, cols)
        for k in gen.dim_choices():
            arg = (k, cols)
            options.append((arg, 0))
    arg, axis = gen.rng.choice(options)
    if default_axis(arg) == axis and gen.rng.random() < 0.6:
        axis = None
    return [(arg, ANY)], {"axis": axis, "axis_text": gen.axis_text(axis)}


def _reduction_infer(ts, p):
    axis = p.get("axis")
    if axis is None:
        return SCALAR
    rows, cols = ts[0]
    return (1, cols) if axis == 0 else (rows, 1)


def _reduction_propose(gen, t, domain):
    if domain not in (ANY, POSITIVE):
        return None
    if is_scalar(t):
        arg, axis = gen.matrix_type(), None
    elif t[0] == 1 and (t[1] != 1 or gen.rng.random() < 0.5):
        arg, axis = (gen.dim_or_one(), t[1]), 0
    elif t[1] == 1:
        arg, axis = (t[0], gen.dim_or_one()), 1
    else:
        return None
    return [(arg, domain)], {"axis": axis, "axis_text": gen.axis_text(axis)}


def _reduction_text(name):
    def text(a, p):
        return f"{name}({a[0]}{p['axis_text']})"
    return text


def _reduction_jax(fn):
    def compute(v, p, c):
        if p.get("axis") is None:
            return fn(v[0])
        return fn(v[0], axis=p["axis"], keepdims=True)
    return compute


def _along_text(name):
    def text(a, p):
        return f"{name}({a[0]}{p['axis_text']})"
    return text


def _trace_propose(gen, t, domain):
    if not is_scalar(t):
        return None
    d = gen.dim_or_one()
    return [((d, d), SPD if domain == POSITIVE else ANY)], {}


def _det_propose(gen, t, domain):
    if not is_scalar(t):
        return None
    d = gen.dim_or_one()
    return [((d, d), INVERTIBLE)], {}


def _logdet_propose(gen, t, domain):
    if not is_scalar(t) or domain != ANY:
        return None
    d = gen.dim_or_one()
    return [((d, d), INVERTIBLE)], {}


def _norm_propose(gen, t, domain):
    if not is_scalar(t) or domain != ANY:
        return None
    return [(gen.matrix_type(), ANY)], {}


def _inv_propose(gen, t, domain):
    if is_scalar(t) or not is_square(t) or domain == POSITIVE and t != (1, 1):
        return None
    return [(t, SPD if domain == SPD else INVERTIBLE)], {}


def _diag_propose(gen, t, domain):
    if is_scalar(t) or not is_square(t) or domain == POSITIVE and t != (1, 1):
        return None
    d = t[0]
    arg = gen.rng.choice([(1, d), (d, 1)])
    return [(arg, ANY if domain == ANY else POSITIVE)], {}


def _diag_infer(ts, p):
    rows, cols = ts[0]
    d = cols if rows == 1 else rows
    return (d, d)


def _logdet(x):
    return jnp.linalg.slogdet(x)[1]


def _norm(x):
    return jnp.sqrt(jnp.sum(x * x))


def _runner_up_gap(x, axis, pick):
    """How far the extreme entry is from the next one (0 at a tie: max has a kink there)."""
    ordered = jnp.sort(jnp.reshape(x, (-1,)) if axis is None else x, axis=-1 if axis is None else axis)
    if pick is jnp.max:
        ordered = jnp.flip(ordered, axis=-1 if axis is None else axis)
    first = jnp.take(ordered, 0, axis=-1 if axis is None else axis)
    if ordered.shape[-1 if axis is None else axis] == 1:
        return jnp.ones_like(first)
    return jnp.abs(first - jnp.take(ordered, 1, axis=-1 if axis is None else axis))


# ---------------------------------------------------------------------- operators

def _add_propose(gen, t, domain):
    if domain in (SPD, INVERTIBLE):
        if is_scalar(t) or not is_square(t):
            return None
        return [(t, SPD), (t, SPD)], {}
    a, b = gen.broadcast_pair(t)
    return [(a, domain), (b, domain)], {}


def _sub_propose(gen, t, domain):
    if domain != ANY:
        return None
    a, b = gen.broadcast_pair(t)
    return [(a, ANY), (b, ANY)], {}


def _mul_propose(gen, t, domain):
    if domain in (SPD, INVERTIBLE):
        if is_scalar(t) or not is_square(t):
            return None
        pair = [(SCALAR, POSITIVE), (t, SPD)]
        gen.rng.shuffle(pair)
        return pair, {}
    a, b = gen.broadcast_pair(t)
    return [(a, domain), (b, domain)], {}


def _div_propose(gen, t, domain):
    if domain in (SPD, INVERTIBLE):
        if is_scalar(t) or not is_square(t):
            return None
        return [(t, SPD), (SCALAR, POSITIVE)], {}
    a, b = gen.broadcast_pair(t)
    return [(a, domain), (b, POSITIVE)], {}


def _matmul_propose(gen, t, domain):
    if is_scalar(t) or domain == SPD:
        return None
    rows, cols = t
    if domain == INVERTIBLE:
        return [(t, INVERTIBLE), (t, INVERTIBLE)], {}
    k = gen.dim_or_one()
    return [((rows, k), domain), ((k, cols), domain)], {}


def _matmul_infer(ts, p):
    (r, k1), (k2, c) = ts
    return (r, c) if k1 == k2 else None


EXPONENTS = [("2", 2), ("3", 3), ("1", 1), ("0", 0), ("-1", -1), ("-2", -2), ("0.5", 0.5),
             ("1.5", 1.5), ("(1/2)", 0.5), ("(3/2)", 1.5), ("2.0", 2), ("-0.5", -0.5)]


def _pow_propose(gen, t, domain):
    if domain in (SPD, INVERTIBLE):
        return None
    if is_scalar(t) and gen.rng.random() < 0.25:    # c ** s: a positive base, any scalar exponent
        return [(SCALAR, POSITIVE), (SCALAR, ANY)], {"exponent": None}
    text, value = gen.rng.choice(EXPONENTS)
    integral = float(value).is_integer() and value >= 0
    base_domain = POSITIVE if domain == POSITIVE or not integral else ANY
    return [(t, base_domain)], {"exponent": value, "exponent_text": text}


def _pow_text(a, p):
    return f"{a[0]} ** {a[1] if p.get('exponent') is None else p['exponent_text']}"


def _pow_jax(v, p, c):
    if p.get("exponent") is None:
        return v[0] ** v[1]
    e = p["exponent"]
    return v[0] ** (int(e) if float(e).is_integer() else float(e))


def _transpose_propose(gen, t, domain):
    if is_scalar(t):
        return ([(t, domain)], {}) if gen.rng.random() < 0.2 else None
    return [((t[1], t[0]), domain)], {}


def _neg_propose(gen, t, domain):
    return ([(t, ANY)], {}) if domain == ANY else None


def _plus_propose(gen, t, domain):
    return [(t, domain)], {}


# ---------------------------------------------------------------------- the one table

TABLE: dict[str, Row] = {}


def _add(row: Row):
    TABLE[row.name] = row


# functions of the syntax.  A new function is one more line, e.g.
#   _add(elementwise("sin", jnp.sin))
#   _add(elementwise("softplus", jax.nn.softplus, produces=(ANY, POSITIVE)))
#   _add(elementwise("abs", jnp.abs, kinked=True, kink=lambda v, p: v[0]))
#   _add(broadcast_function("maximum", jnp.maximum, kinked=True, kink=lambda v, p: v[0] - v[1]))
# (test_slice_draws_every_row fails while a function of mc.parse has no row here).
_add(elementwise("exp", jnp.exp, produces=(ANY, POSITIVE)))
_add(elementwise("log", jnp.log, arg_domain=POSITIVE))
_add(elementwise("tanh", jnp.tanh))
_add(elementwise("sigmoid", jax.nn.sigmoid, produces=(ANY, POSITIVE)))
_add(elementwise("relu", jax.nn.relu, kinked=True, kink=lambda v, p: v[0]))   # jax.nn.relu'(0) = 0, as matcalc
_add(elementwise("sqrt", jnp.sqrt, arg_domain=POSITIVE, produces=(ANY, POSITIVE)))
_add(elementwise("step", lambda x: jnp.where(x > 0, 1.0, 0.0), kinked=True, kink=lambda v, p: v[0], weight=0.6))
_add(elementwise("sin", jnp.sin))
_add(elementwise("cos", jnp.cos))
_add(elementwise("tan", jnp.tan, arg_domain=UNIT))
_add(elementwise("arcsin", jnp.arcsin, arg_domain=UNIT))
_add(elementwise("arccos", jnp.arccos, arg_domain=UNIT, produces=(ANY, POSITIVE)))
_add(elementwise("arctan", jnp.arctan))
_add(elementwise("sinh", jnp.sinh))
_add(elementwise("cosh", jnp.cosh, produces=(ANY, POSITIVE)))
_add(elementwise("abs", jnp.abs, kinked=True, kink=lambda v, p: v[0]))      # matcalc: |·|′(0) = 0; JAX: 1 (not compared at 0)
_add(elementwise("sign", jnp.sign, kinked=True, kink=lambda v, p: v[0], weight=0.6))
_add(elementwise("softplus", jax.nn.softplus, produces=(ANY, POSITIVE)))
_add(elementwise("log1p", jnp.log1p, arg_domain=POSITIVE))
_add(elementwise("expm1", jnp.expm1))
_add(elementwise("erf", jax.scipy.special.erf))
_add(elementwise("gelu", lambda x: jax.nn.gelu(x, approximate=False)))
_add(elementwise("logsigmoid", jax.nn.log_sigmoid))
_add(elementwise("square", jnp.square))
_add(elementwise("reciprocal", lambda x: 1 / x, arg_domain=POSITIVE, produces=(ANY, POSITIVE)))
_add(broadcast_function("maximum", jnp.maximum, kinked=True, kink=lambda v, p: v[0] - v[1]))
_add(broadcast_function("minimum", jnp.minimum, kinked=True, kink=lambda v, p: v[0] - v[1]))
_add(Row("max", _reduction_propose, _reduction_infer, _reduction_text("max"), _reduction_jax(jnp.max),
         kinked=True, kink=lambda v, p: _runner_up_gap(v[0], p.get("axis"), jnp.max)))
_add(Row("min", _reduction_propose, _reduction_infer, _reduction_text("min"), _reduction_jax(jnp.min),
         kinked=True, kink=lambda v, p: _runner_up_gap(v[0], p.get("axis"), jnp.min)))
_add(Row("softmax", _softmax_propose, lambda ts, p: ts[0], _along_text("softmax"),
         lambda v, p, c: jax.nn.softmax(v[0], axis=_axis_of(p["type"], p))))
_add(Row("logsumexp", _logsumexp_propose, _logsumexp_infer, _along_text("logsumexp"),
         lambda v, p, c: jax.scipy.special.logsumexp(v[0], axis=_axis_of(p["arg_type"], p), keepdims=True)))
_add(Row("sum", _reduction_propose, _reduction_infer, _reduction_text("sum"), _reduction_jax(jnp.sum)))
_add(Row("mean", _reduction_propose, _reduction_infer, _reduction_text("mean"), _reduction_jax(jnp.mean)))
_add(Row("trace", _trace_propose, lambda ts, p: SCALAR, _call_text("trace"), lambda v, p, c: jnp.trace(v[0])))
_add(Row("det", _det_propose, lambda ts, p: SCALAR, _call_text("det"), lambda v, p, c: jnp.linalg.det(v[0]),
         domain="a well-conditioned square matrix"))
_add(Row("logdet", _logdet_propose, lambda ts, p: SCALAR, _call_text("logdet"), lambda v, p, c: _logdet(v[0]),
         domain="a square matrix with positive determinant"))
_add(Row("norm", _norm_propose, lambda ts, p: SCALAR, _call_text("norm"), lambda v, p, c: _norm(v[0]),
         kinked=True, kink=lambda v, p: _norm(v[0])))
_add(Row("inv", _inv_propose, lambda ts, p: ts[0], _call_text("inv"), lambda v, p, c: jnp.linalg.inv(v[0]),
         domain="a well-conditioned square matrix"))
_add(Row("diag", _diag_propose, _diag_infer, _call_text("diag"), lambda v, p, c: jnp.diag(jnp.reshape(v[0], (-1,)))))
_add(Row("eye", _eye_propose, lambda ts, p: (p["dims"][0], p["dims"][0]),
         lambda a, p: f"eye({p['dims'][0]})", lambda v, p, c: jnp.eye(c.size(p["dims"][0])), leaf=True, weight=0.5))
_add(Row("ones", _ones_propose, lambda ts, p: tuple(p["dims"]),
         lambda a, p: f"ones({p['dims'][0]}, {p['dims'][1]})",
         lambda v, p, c: jnp.ones((c.size(p["dims"][0]), c.size(p["dims"][1]))), leaf=True, weight=0.5))
# operators of the syntax
_add(Row("@", _matmul_propose, _matmul_infer, lambda a, p: f"{a[0]} @ {a[1]}", lambda v, p, c: v[0] @ v[1],
         prec=2, arg_prec=(2, 3), weight=2))
_add(Row("+", _add_propose, lambda ts, p: broadcast_type(*ts), lambda a, p: f"{a[0]} + {a[1]}",
         lambda v, p, c: v[0] + v[1], prec=1, arg_prec=(1, 2), weight=2))
_add(Row("-", _sub_propose, lambda ts, p: broadcast_type(*ts), lambda a, p: f"{a[0]} - {a[1]}",
         lambda v, p, c: v[0] - v[1], prec=1, arg_prec=(1, 2), weight=1.5))
_add(Row("*", _mul_propose, lambda ts, p: broadcast_type(*ts), lambda a, p: f"{a[0]} * {a[1]}",
         lambda v, p, c: v[0] * v[1], prec=2, arg_prec=(2, 3), weight=2))
_add(Row("/", _div_propose, lambda ts, p: broadcast_type(*ts), lambda a, p: f"{a[0]} / {a[1]}",
         lambda v, p, c: v[0] / v[1], prec=2, arg_prec=(2, 3), domain="denominator positive"))
_add(Row("**", _pow_propose, lambda ts, p: ts[0], _pow_text, _pow_jax, prec=4, arg_prec=(5, 3),
         domain="base positive unless the exponent is a natural number"))
_add(Row(".T", _transpose_propose, lambda ts, p: ts[0] if is_scalar(ts[0]) else (ts[0][1], ts[0][0]),
         lambda a, p: f"{a[0]}.T", lambda v, p, c: v[0].T, prec=5, arg_prec=5))
_add(Row("neg", _neg_propose, lambda ts, p: ts[0], lambda a, p: f"-{a[0]}", lambda v, p, c: -v[0],
         prec=3, arg_prec=3))
_add(Row("pos", _plus_propose, lambda ts, p: ts[0], lambda a, p: f"+{a[0]}", lambda v, p, c: v[0],
         prec=3, arg_prec=3, weight=0.2))
# leaves
_add(Row("symbol", _symbol_propose, lambda ts, p: p["shape"], lambda a, p: p["name"],
         lambda v, p, c: c.env[p["name"]], leaf=True, syntax=False, weight=3))
_add(Row("number", _number_propose, lambda ts, p: SCALAR, lambda a, p: p["text"],
         lambda v, p, c: jnp.asarray(float(p["value"])), leaf=True, syntax=False))
_add(Row("dim", _dim_propose, lambda ts, p: SCALAR, lambda a, p: p["name"],
         lambda v, p, c: jnp.asarray(float(c.size(p["name"]))), leaf=True, syntax=False, weight=0.3))

KINKED = tuple(name for name, row in TABLE.items() if row.kinked)
"""The rows with kinks (relu, and norm at 0): derivatives are not compared next to a kink."""


# ====================================================================== names

AWKWARD_NAMES = [
    "e", "E", "e1", "e2", "ee", "pi", "self", "np", "sum", "max", "abs", "tuple", "dict", "zip",
    "float", "DTYPE", "EXPCAP", "t1", "rng", "x", "A",
    # more of the same kind: SymPy's own names, Python keywords and builtins, generated-code names
    "I", "N", "S", "Q", "O", "oo", "nan", "inf", "E1", "lambda", "None", "True", "in", "_", "x_1",
    "λ", "exp", "log", "T", "kwargs", "args", "out", "jnp", "math", "Sum", "Max", "int", "range", "len",
]
ORDINARY_NAMES = [
    "a", "b", "c", "u", "v", "w", "y", "z", "B", "C", "M", "P", "W", "X", "Y", "Z", "H", "L", "G",
    "alpha", "beta", "gamma", "lam", "theta", "W1", "b1", "W2", "h1", "mu", "sigma", "x0", "y_hat",
]
DIMENSION_NAMES = ["n", "m", "k", "d", "p", "q", "r", "K"]


@functools.lru_cache(maxsize=None)
def _name_verdicts():
    """name → None if ``mc.parse`` accepts it as a symbol and as a dimension name, else why not."""
    verdicts = {}
    for name in dict.fromkeys(AWKWARD_NAMES + ORDINARY_NAMES + DIMENSION_NAMES):
        reason = None
        dimension_name = "zz9" if name != "zz9" else "zz8"
        try:
            mc.parse(name, {name: (1, dimension_name)})
        except mc.MatcalcError as error:
            reason = f"as a symbol: {str(error).splitlines()[0]}"
        if reason is None:
            try:
                mc.parse("zz7", {"zz7": (1, name)})
            except mc.MatcalcError as error:
                reason = f"as a dimension: {str(error).splitlines()[0]}"
        verdicts[name] = reason
    return verdicts


def accepted_names():
    return [n for n, why in _name_verdicts().items() if why is None]


def refused_names():
    """Names of the pools that ``mc.parse`` refuses, with its reason (the rest are used)."""
    return {n: why for n, why in _name_verdicts().items() if why is not None}


# ====================================================================== the generator

class Generator:
    """Draws one random typed tree.  ``rng`` is a ``random.Random``; dimensions and sizes are
    drawn per generator (2..4, distinct, so that a transposition mistake shows)."""

    def __init__(self, rng: random.Random, *, awkward=0.4):
        self.rng = rng
        self.awkward = awkward
        ok = set(accepted_names())
        self.awkward_pool = [n for n in AWKWARD_NAMES if n in ok]
        self.ordinary_pool = [n for n in ORDINARY_NAMES if n in ok]
        count = rng.choice([1, 2, 2, 3])
        sizes = rng.sample([2, 3, 4], count)
        self.dims = []
        self.sizes = {}
        taken = set()
        for size in sizes:
            if rng.random() < 0.08 and not any(isinstance(d, int) for d in self.dims):
                self.dims.append(size)          # a literal dimension, e.g. x: (1, 3)
                continue
            pool = self.awkward_pool if rng.random() < 0.15 else [n for n in DIMENSION_NAMES if n in ok]
            name = rng.choice([n for n in pool if n not in taken] or [f"n{len(taken)}"])
            taken.add(name)
            self.dims.append(name)
            self.sizes[name] = size
        self.taken = set(taken)
        self.symbols = {}       # name → (type, flag)

    # ------------------------------------------------------------ choices

    def dim_choices(self):
        return list(self.dims) + [1]

    def dim_or_one(self):
        return self.rng.choice(self.dims + [1] if self.rng.random() < 0.3 else self.dims)

    def matrix_type(self):
        return (self.dim_or_one(), self.dim_or_one())

    def axis_text(self, axis):
        if axis is None:
            return ""
        spelled = {0: ["axis=0", "0", "axis=-2"], 1: ["axis=1", "1", "axis=-1", "-1"]}[axis]
        return ", " + self.rng.choice(spelled)

    def broadcast_pair(self, t):
        """Two argument types whose broadcast is exactly ``t``."""
        rng = self.rng
        if is_scalar(t):
            return SCALAR, SCALAR
        if t == (1, 1):
            return rng.choice([((1, 1), (1, 1)), ((1, 1), (1, 1)), ((1, 1), SCALAR), (SCALAR, (1, 1))])
        if rng.random() < 0.55:
            return t, t
        rows, cols = t
        variants = [t, SCALAR, (1, 1)]
        if rows != 1:
            variants.append((1, cols))
        if cols != 1:
            variants.append((rows, 1))
        while True:
            a, b = rng.choice(variants), rng.choice(variants)
            if broadcast_type(a, b) == t:
                return a, b

    def symbol(self, t, flag):
        """A symbol of type ``t`` (reused if one exists, else a new name)."""
        same = [n for n, (st, sf) in self.symbols.items() if st == t and sf == flag]
        if same and self.rng.random() < 0.6:
            return self.rng.choice(same)
        pool = self.awkward_pool if self.rng.random() < self.awkward else self.ordinary_pool
        free = [n for n in pool if n not in self.taken] or [n for n in self.ordinary_pool if n not in self.taken]
        name = self.rng.choice(free) if free else f"s{len(self.taken)}"
        self.taken.add(name)
        self.symbols[name] = (t, flag)
        return name

    # ------------------------------------------------------------ trees

    def expr(self, t, depth, domain=ANY) -> Node:
        if t == (1, 1) and domain in (SPD, INVERTIBLE):
            domain = POSITIVE       # a positive 1×1 is positive definite
        if domain == UNIT:
            return make_node("tanh", (self.expr(t, max(depth - 1, 0)),), {})
        macro = self.macro(t, depth, domain)
        if macro is not None:
            return macro
        rows = [r for r in TABLE.values() if depth > 0 or r.leaf]
        weights = [r.weight * (0.35 if r.leaf and depth > 0 else 1) for r in rows]
        while rows:
            i = self.rng.choices(range(len(rows)), weights)[0]
            row = rows.pop(i)
            weights.pop(i)
            proposal = row.propose(self, t, domain)
            if proposal is None:
                continue
            specs, params = proposal
            args = tuple(self.expr(at, depth - 1, ad) for at, ad in specs)
            return make_node(row.name, args, params, expect=t)
        raise AssertionError(f"no row builds {type_text(t)} ({domain})")   # the symbol row always can

    def macro(self, t, depth, domain):
        """Compositions that reach a domain often: X ⊙ X + c (positive), A Aᵀ + I (spd)."""
        rng = self.rng
        if depth <= 0:
            return None
        if domain == POSITIVE and rng.random() < 0.15:
            x = self.expr(t, depth - 1)
            square = make_node("*", (x, x), {})
            c = make_node("number", (), {"text": "1", "value": 1})
            return make_node("+", (square, c), {}, expect=t)
        if domain in (SPD, INVERTIBLE) and not is_scalar(t) and is_square(t) and rng.random() < 0.4:
            d = t[0]
            a = self.expr((d, self.dim_or_one()), depth - 1)
            gram = make_node("@", (a, make_node(".T", (a,), {})), {})
            shift = (make_node("eye", (), {"dims": (d,)}) if rng.random() < 0.6
                     else self.expr(t, depth - 1, SPD))
            return make_node("+", (gram, shift), {}, expect=t)
        return None

    # ------------------------------------------------------------ values

    def values(self, np_rng, symbols):
        """Random values: N(0, 0.5²) entries; positive ones in [0.5, 2]; SPD ones M Mᵀ/d + I."""
        values = {}
        for name, (t, flag) in symbols.items():
            shape = tuple(self.size(d) for d in t)
            if flag == "spd":
                m = np_rng.standard_normal(shape)
                values[name] = m @ m.T / shape[0] + np.eye(shape[0])
            elif flag == "positive":
                values[name] = np_rng.uniform(0.5, 2.0, shape)
            else:
                values[name] = 0.5 * np_rng.standard_normal(shape)
            if not shape:
                values[name] = float(values[name])
        return values

    def size(self, d):
        return d if isinstance(d, int) else self.sizes[d]


def make_node(row, args, params, expect=None) -> Node:
    """A node whose type is inferred from its arguments (and checked against ``expect``)."""
    r = TABLE[row]
    arg_types = [a.type for a in args]
    params = dict(params)
    t = r.infer(arg_types, params)
    if t is None or (expect is not None and t != expect):
        raise AssertionError(f"row {row!r} on {[type_text(a) for a in arg_types]} gives "
                             f"{t if t is None else type_text(t)}, expected {type_text(expect)}")
    params["type"] = t
    if args:
        params["arg_type"] = args[0].type
    return Node(row, tuple(args), t, params)


# ====================================================================== cases

@dataclass
class Case:
    """One expression with its declarations, sizes, values and the checks to run."""
    tree: Node
    shapes: dict            # name → shape tuple, for mc.parse
    spd: tuple
    positive: tuple
    sizes: dict             # dimension name → size
    values: dict            # symbol name → ndarray (float for scalars)
    checks: list            # [(kind, wrt)]
    seed: object = None
    near_kink: bool = False

    @functools.cached_property
    def text(self) -> str:
        return render(self.tree)

    @functools.cached_property
    def jax_fn(self):
        return build_jax(self.tree)

    @functools.cached_property
    def jax_references(self):
        """One jitted JAX function of the values giving the value, the distances to kinks
        and every derivative the checks need (one XLA compilation per case, reused when
        values are redrawn)."""
        return jax.jit(_references_function(self.jax_fn, self.sizes, tuple(self.checks)))

    def reference(self) -> dict:
        """{"value": …, "probe": [...], "gradient:x": …, …} as NumPy arrays, for these values."""
        if self.__dict__.get("_reference_for") is not self.values:
            with np.errstate(all="ignore"):
                result = self.jax_references(self.jax_env())
            self._reference = jax.tree_util.tree_map(np.asarray, result)
            self._reference_for = self.values
        return self._reference

    def jax_value(self, env=None, probe=None):
        env = self.jax_env() if env is None else env
        return self.jax_fn(Context(env, self.sizes, probe))

    def jax_env(self):
        return {k: jnp.asarray(v, dtype=jnp.float64) for k, v in self.values.items()}

    def symbols(self):
        """name → (type, flag) of the symbols in the tree, in order of appearance."""
        found = {}
        for node in self.tree.walk():
            if node.row == "symbol":
                found.setdefault(node.params["name"], (node.params["shape"], node.params["flag"]))
        return found

    def reproducer(self, kind=None, wrt=None) -> dict:
        used = {d for shape in self.shapes.values() for d in shape if isinstance(d, str)}
        return {"text": self.text, "shapes": {k: list(v) for k, v in self.shapes.items()},
                "spd": list(self.spd), "positive": list(self.positive),
                "sizes": {d: s for d, s in self.sizes.items() if d in used},
                "kind": kind, "wrt": wrt, "seed": self.seed}


def _references_function(f, sizes, checks):
    def references(env):
        probe = []
        out = {"value": f(Context(env, sizes, probe)), "probe": probe}
        for kind, wrt in checks:
            if kind == "value":
                continue

            def with_value(v, wrt=wrt):
                return f(Context(dict(env, **{wrt: v}), sizes))

            def scalar_of(v, wrt=wrt):
                return jnp.reshape(with_value(v, wrt), ())
            if kind == "gradient":
                out[f"{kind}:{wrt}"] = jax.grad(scalar_of)(env[wrt])
            elif kind == "jacobian":
                out[f"{kind}:{wrt}"] = jax.jacobian(with_value)(env[wrt])
            elif kind == "hessian":
                out[f"{kind}:{wrt}"] = jax.hessian(scalar_of)(env[wrt])
            else:
                raise ValueError(f"unknown check {kind!r}")
        return out
    return references


def _declarations(tree, dims_sizes, carriers=None):
    """(shapes, spd, positive) for the symbols of ``tree``, plus a carrier symbol for any
    dimension the text names (eye(n), n as a scalar) that no used symbol carries."""
    symbols = {}
    for node in tree.walk():
        if node.row == "symbol":
            symbols.setdefault(node.params["name"], (node.params["shape"], node.params["flag"]))
    mentioned = set()
    for node in tree.walk():
        if node.row == "dim":
            mentioned.add(node.params["name"])
        for d in node.params.get("dims", ()):
            if isinstance(d, str):
                mentioned.add(d)
        for d in (node.type or ()):
            if isinstance(d, str):
                mentioned.add(d)
    carried = {d for t, _ in symbols.values() for d in t if isinstance(d, str)}
    extra = {}
    for d in sorted(mentioned - carried):
        name = f"carry_{d}" if carriers is None else carriers[d]
        extra[name] = ((1, d), None)
    all_symbols = {**symbols, **extra}
    shapes = {n: tuple(t) for n, (t, _) in all_symbols.items()}
    spd = tuple(n for n, (_, f) in all_symbols.items() if f == "spd")
    positive = tuple(n for n, (_, f) in all_symbols.items() if f == "positive")
    return shapes, spd, positive, all_symbols


def generate_case(seed, *, max_depth=3, awkward=0.4, max_gradients=3) -> Optional[Case]:
    """A random case, reproducible from ``seed``: its tree, declarations, values and checks.

    Values are redrawn when the JAX value is not finite or huge; None if no draw works."""
    rng = random.Random(seed)
    for _attempt in range(20):
        gen = Generator(rng, awkward=awkward)
        t = rng.choices([SCALAR, (1, 1), "vector", "matrix"], [40, 15, 25, 20])[0]
        if t == "vector":
            d = rng.choice(gen.dims)
            t = rng.choice([(1, d), (d, 1)])
        elif t == "matrix":
            t = (rng.choice(gen.dims), rng.choice(gen.dims))
        tree = gen.expr(t, rng.randint(1, max_depth))
        matrix_names = [n for n, (st, _) in _tree_symbols(tree).items() if not is_scalar(st)]
        if not matrix_names:
            continue
        carriers = {d: gen.symbol((1, d), None) for d in gen.dims if isinstance(d, str)}
        shapes, spd, positive, all_symbols = _declarations(tree, gen.sizes, carriers)
        used = {d for shape in shapes.values() for d in shape if isinstance(d, str)}
        gen.sizes = {d: s for d, s in gen.sizes.items() if d in used}
        np_rng = np.random.default_rng(rng.getrandbits(32))
        checks = _choose_checks(rng, tree, matrix_names, max_gradients)
        case = Case(tree, shapes, spd, positive, dict(gen.sizes), {}, checks, seed)
        for _draw in range(4):
            case.values = gen.values(np_rng, all_symbols)
            if _usable(case):
                return case
    return None


def _tree_symbols(tree):
    found = {}
    for node in tree.walk():
        if node.row == "symbol":
            found.setdefault(node.params["name"], (node.params["shape"], node.params["flag"]))
    return found


def _choose_checks(rng, tree, matrix_names, max_gradients):
    checks = [("value", None)]
    t = tree.type
    symbols = _tree_symbols(tree)
    vectors = [n for n in matrix_names if is_vector(symbols[n][0])]
    if is_scalar(t) or t == (1, 1):
        names = list(matrix_names)
        rng.shuffle(names)
        checks += [("gradient", n) for n in names[:max_gradients]]
        if vectors and rng.random() < 0.6:
            checks.append(("hessian", rng.choice(vectors)))
    elif is_vector(t):
        names = list(vectors)
        rng.shuffle(names)
        checks += [("jacobian", n) for n in names[:2]]
    return checks


def _usable(case) -> bool:
    """Finite, moderate JAX value; records whether a kink is too close for derivatives."""
    reference = case.reference()
    value = reference["value"]
    if not np.all(np.isfinite(value)) or np.max(np.abs(value), initial=0) > HUGE:
        return False
    case.near_kink = any(float(d) < KINK_DISTANCE for d in reference["probe"])
    return True


def make_case(tree, *, sizes, values=None, checks=None, seed=0, near_kink=None) -> Case:
    """A case from a hand-built tree (see :func:`sym`, :func:`call`, :func:`op`).

    Missing values are drawn like the generator's; ``checks`` defaults to the value and
    every derivative that applies."""
    shapes, spd, positive, all_symbols = _declarations(tree, sizes)
    gen = Generator(random.Random(seed))
    gen.sizes = dict(sizes)
    drawn = gen.values(np.random.default_rng(seed), all_symbols)
    given = {k: (np.asarray(v, dtype=float) if not is_scalar(all_symbols[k][0]) else float(v))
             for k, v in (values or {}).items()}
    if checks is None:
        symbols = _tree_symbols(tree)
        matrix_names = [n for n, (t, _) in symbols.items() if not is_scalar(t)]
        checks = _choose_checks(_AllRandom(), tree, matrix_names, len(matrix_names))
    case = Case(tree, shapes, spd, positive, dict(sizes), {**drawn, **given}, list(checks), seed)
    case.near_kink = any(float(d) < KINK_DISTANCE for d in case.reference()["probe"])
    if near_kink is not None:
        case.near_kink = near_kink
    return case


class _AllRandom:
    """A stand-in rng for make_case: keeps everything, in order."""
    def shuffle(self, x):
        pass

    def random(self):
        return 0.0

    def choice(self, x):
        return x[0]


# ---------------------------------------------------------------------- builders for hand-written trees

def sym(name, *shape, flag=None) -> Node:
    """A symbol: ``sym("x", 1, "n")``, ``sym("lam")`` (a scalar), ``sym("S", "n", "n", flag="spd")``."""
    return make_node("symbol", (), {"name": name, "shape": tuple(shape), "flag": flag})


def num(text) -> Node:
    return make_node("number", (), {"text": str(text), "value": float(Fraction(str(text)))})


def dimension(name) -> Node:
    return make_node("dim", (), {"name": name})


def call(name, *args, axis=None, axis_text=None, dims=None) -> Node:
    params = {}
    if name in ("eye", "ones"):
        params["dims"] = tuple(dims if dims is not None else args)
        args = ()
    if name in ("softmax", "logsumexp", "sum", "mean"):
        params["axis"] = axis
        params["axis_text"] = axis_text if axis_text is not None else ("" if axis is None else f", axis={axis}")
    return make_node(name, tuple(args), params)


def op(name, *args, exponent=None) -> Node:
    params = {}
    if name == "**":
        if exponent is None:
            params["exponent"] = None
        else:
            params["exponent"] = float(Fraction(str(exponent)))
            params["exponent_text"] = str(exponent)
    return make_node(name, tuple(args), params)


# ====================================================================== running a case

class Timeout(BaseException):
    """Raised by the alarm inside a timed matcalc call (a BaseException, so that no
    ``except Exception`` in matcalc swallows it)."""


@contextmanager
def time_limit(seconds):
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum, frame):
        raise Timeout()
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Check:
    kind: str                 # parse, value, gradient, jacobian, hessian
    wrt: Optional[str]
    status: str
    family: Optional[str] = None
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Outcome:
    case: Case
    checks: list = field(default_factory=list)

    @property
    def status(self) -> str:
        order = [SLOW, CRASH, WRONG, REFUSED, SKIP, PASS]
        present = {c.status for c in self.checks}
        return next((s for s in order if s in present), PASS)

    def failures(self):
        return [c for c in self.checks if c.status in FAILURES]


_STOPWORDS = {"a", "an", "the", "is", "in", "of", "to", "at", "by", "or", "and", "not", "no", "be", "as",
              "it", "on", "for", "with", "I", "e"}


def normalise_message(message: str, names=()) -> str:
    """The first line of an error message with positions, quoted text, names and numbers
    stripped, so that one cause gives one family."""
    lines = [line for line in str(message).strip().splitlines() if line.strip()]
    line = lines[0] if lines else ""
    line = re.sub(r"\(line \d+, column \d+\)", "", line)
    line = re.sub(r"'[^']*'|\"[^\"]*\"|«[^»]*»", "'…'", line)
    for name in sorted(set(names), key=len, reverse=True):
        if name in _STOPWORDS or not name:
            continue
        line = re.sub(rf"(?<![\w.]){re.escape(name)}(?!\w)", "_", line)
    line = re.sub(r"\d+(\.\d+)?", "N", line)
    # expressions quoted in a message (a differential, a node) vary with the case: elide them
    words = []
    for word in line.split():
        node_class = re.fullmatch(r"\(([A-Z][A-Za-z]+)\)([,;:]?)", word)    # "(MatMul);" names a node class
        if node_class:
            word = f"[{node_class.group(1)}]{node_class.group(2)}"
        elif re.search(r"[()\[\]*+/@^·×∘⊙]", word) or word.strip(",;:") in ("_", "N"):
            word = "…" + (word[-1] if word[-1] in ",;:" else "")
            # "… - … I, …": what lies between two elisions, if no English word, is elided too
            last = max((i for i, w in enumerate(words) if w.startswith("…")), default=None)
            if last is not None and all(not _is_word(w) for w in words[last + 1:]):
                del words[last:]
        words.append(word)
    return " ".join(words)[:160]


def _is_word(word):
    return re.fullmatch(r"[A-Za-z]{2,}[,;:.]?|\[[A-Za-z]+\][,;:]?", word) is not None


def crash_site(error: BaseException, stage: str = "") -> str:
    """The innermost frame of matcalc (or of its generated code) in the traceback."""
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        if frame.filename.startswith("<matcalc"):
            return f"{frame.filename.strip('<>')} (generated code)"
        path = os.path.abspath(frame.filename)
        if path.startswith(MATCALC_DIR + os.sep):
            return f"{os.path.relpath(path, os.path.dirname(MATCALC_DIR))}:{frame.name}"
    return f"no matcalc frame ({stage})" if stage else "no matcalc frame"


class _Stage:
    def __init__(self):
        self.name = "start"

    def __call__(self, name):
        self.name = name


def _call_compiled(fn, case):
    """Call a compiled function: arrays and floats by symbol name, plus the dimensions that
    no argument carries, as ints."""
    # a dimension used as a scalar, with no argument carrying it, is an input of its own
    kwargs = {name: case.values[name] if name in case.values else case.sizes[name] for name in fn.inputs}
    carried = {d for name in fn.inputs for d in case.shapes.get(name, ()) if isinstance(d, str)}
    for d in fn.dimensions:
        if d not in carried:
            kwargs[d] = case.sizes[d]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(**kwargs)


def _concrete(case, t):
    return tuple(case.sizes[d] if isinstance(d, str) else d for d in t)


def _parse(case):
    return mc.parse(case.text, case.shapes, spd=case.spd, positive=case.positive)


def _variable(case, name):
    return mc.parse(name, case.shapes, spd=case.spd, positive=case.positive)


def _reference(case, kind, wrt):
    """(expected array, expected shape) from JAX, or (None, reason) to skip."""
    reference = case.reference()
    if kind == "value":
        want, shape = reference["value"], _concrete(case, case.tree.type)
    else:
        want = reference[f"{kind}:{wrt}"]
        in_size = int(np.size(case.values[wrt]))
        if kind == "gradient":
            shape = np.shape(case.values[wrt])
        elif kind == "jacobian":
            shape = (int(np.prod(_concrete(case, case.tree.type))), in_size)
        else:
            shape = (in_size, in_size)
    want = np.asarray(want)
    if not np.all(np.isfinite(want)):
        return None, "JAX is not finite here"
    return want.reshape(shape), shape


def _compare(got, want, shape, symmetrize=False):
    """None if equal within RTOL, else (mode, detail)."""
    got = np.asarray(got, dtype=float)
    if got.shape != tuple(shape):
        if got.size == 1 and int(np.prod(shape)) == 1:
            got = got.reshape(shape)
        else:
            return "shape", f"matcalc gives shape {got.shape}, expected {tuple(shape)}"
    if not np.all(np.isfinite(got)):
        return "not finite", f"matcalc gives {_short_array(got)} where JAX gives {_short_array(want)}"
    if symmetrize and got.ndim == 2 and got.shape[0] == got.shape[1]:
        got, want = (got + got.T) / 2, (want + want.T) / 2
    scale = np.maximum(np.maximum(np.abs(got), np.abs(want)), 1.0)
    error = np.abs(got - want) / scale
    if error.max(initial=0) > RTOL:
        return "numbers differ", (f"max rel error {error.max():.3g}: matcalc {_short_array(got)}, "
                                  f"JAX {_short_array(want)}")
    return None


def _short_array(a):
    a = np.asarray(a)
    if a.size == 1:
        return f"{float(a.reshape(())):.6g}"
    return np.array2string(a, precision=4, threshold=12, max_line_width=200).replace("\n", "")


def _names_of(case):
    return list(case.shapes) + list(case.sizes)


def _failure(kind, wrt, error, stage, names, seconds):
    if isinstance(error, Timeout):
        return Check(kind, wrt, SLOW, f"SLOW in {stage}", f"over the time limit in {stage}", seconds)
    if isinstance(error, mc.MatcalcError):
        family = f"REFUSED {type(error).__name__}: {normalise_message(str(error), names)}"
        return Check(kind, wrt, REFUSED, family, f"{stage}: {str(error).splitlines()[0][:300]}", seconds)
    site = crash_site(error, stage)
    family = f"CRASH {type(error).__name__} at {site}"
    first = str(error).splitlines()[0][:300] if str(error) else ""
    return Check(kind, wrt, CRASH, family, f"{stage}: {type(error).__name__}: {first}", seconds)


def run_check(case, parsed, kind, wrt, *, time_limit_s=10.0, triage=True) -> Check:
    """One check of a parsed case: ``kind`` is value, gradient, jacobian or hessian."""
    if kind != "value" and case.near_kink:
        return Check(kind, wrt, SKIP, None, "a kinked function is at its kink here")
    try:
        want, shape = _reference(case, kind, wrt)
    except Exception as error:     # noqa: BLE001 - a harness problem, reported, never a matcalc verdict
        return Check(kind, wrt, SKIP, None, f"JAX raised {type(error).__name__}: {error}")
    if want is None:
        return Check(kind, wrt, SKIP, None, shape)
    stage = _Stage()
    start = time.perf_counter()
    try:
        with time_limit(time_limit_s):
            if kind == "value":
                stage("compile")
                result = parsed
            else:
                stage("derive")
                x = _variable(case, wrt)
                if kind == "gradient":
                    result = mc.gradient(parsed, x)
                elif kind == "jacobian":
                    result = mc.jacobian(parsed, x)
                else:
                    result = mc.hessian(parsed, x)
                stage("compile")
            fn = mc.compile(result)
            stage("call")
            got = _call_compiled(fn, case)
    except (Timeout, Exception) as error:     # noqa: BLE001 - every exception is a verdict
        check = _failure(kind, wrt, error, stage.name, _names_of(case), time.perf_counter() - start)
        if triage and check.status == CRASH:
            culprit = _name_triage(case, kind, wrt, time_limit_s)
            if culprit:
                check.family += f" (only with {culprit})"
        return check
    seconds = time.perf_counter() - start
    spd = kind == "gradient" and wrt in case.spd
    problem = _compare(got, want, shape, symmetrize=spd)
    if problem is None:
        return Check(kind, wrt, PASS, None, "", seconds)
    mode, detail = problem
    family = f"WRONG {kind}: {mode}"
    if triage:
        culprit = _name_triage(case, kind, wrt, time_limit_s)
        if culprit:
            family += f" (only with {culprit})"
    return Check(kind, wrt, WRONG, family, detail, seconds)


def run_case(case: Case, *, time_limit_s=10.0, triage=True) -> Outcome:
    """Parse the case and run its checks; every check gets a verdict."""
    outcome = Outcome(case)
    stage = _Stage()
    start = time.perf_counter()
    try:
        with time_limit(time_limit_s):
            stage("parse")
            parsed = _parse(case)
    except (Timeout, Exception) as error:     # noqa: BLE001
        outcome.checks.append(_failure("parse", None, error, "parse", _names_of(case),
                                       time.perf_counter() - start))
        return outcome
    for kind, wrt in case.checks:
        outcome.checks.append(run_check(case, parsed, kind, wrt, time_limit_s=time_limit_s, triage=triage))
    return outcome


def single(case, kind, wrt, *, time_limit_s=10.0) -> Check:
    """Parse and run one check (for triage and shrinking)."""
    try:
        with time_limit(time_limit_s):
            parsed = _parse(case)
    except (Timeout, Exception) as error:     # noqa: BLE001
        return _failure("parse", None, error, "parse", _names_of(case), 0.0)
    return run_check(case, parsed, kind, wrt, time_limit_s=time_limit_s, triage=False)


# ---------------------------------------------------------------------- renaming (name triage)

def rename(case: Case, mapping: dict) -> Case:
    """The same case with symbols and dimensions renamed (``mapping``: old → new)."""
    def m(x):
        return mapping.get(x, x) if isinstance(x, str) else x

    def t(ty):
        return tuple(m(d) for d in ty)

    def copy_node(node):
        params = dict(node.params)
        if "name" in params:
            params["name"] = m(params["name"])
        for key in ("shape", "dims", "type", "arg_type"):
            if key in params and params[key] is not None:
                params[key] = t(params[key])
        return Node(node.row, tuple(copy_node(a) for a in node.args), t(node.type), params)

    new = Case(copy_node(case.tree), {m(k): t(v) for k, v in case.shapes.items()},
               tuple(m(n) for n in case.spd), tuple(m(n) for n in case.positive),
               {m(k): v for k, v in case.sizes.items()}, {m(k): v for k, v in case.values.items()},
               [(k, m(w)) for k, w in case.checks], case.seed, case.near_kink)
    return new


def _plain_names(case):
    used = set(case.shapes) | set(case.sizes)
    mapping = {}
    for i, name in enumerate(case.shapes):
        mapping[name] = f"zs{i}"
    for i, name in enumerate(case.sizes):
        mapping[name] = f"zd{i}"
    assert not (set(mapping.values()) & used)
    return mapping


def _name_triage(case, kind, wrt, time_limit_s):
    """If the check passes once every name is plain, the name(s) that make it fail."""
    mapping = _plain_names(case)
    plain = rename(case, mapping)
    if single(plain, kind, mapping.get(wrt, wrt), time_limit_s=time_limit_s).status != PASS:
        return None
    guilty = []
    for name in list(case.shapes) + list(case.sizes):
        one = rename(case, {name: mapping[name]})
        if single(one, kind, mapping.get(wrt, wrt) if name == wrt else wrt,
                  time_limit_s=time_limit_s).status == PASS:
            what = "dimension" if name in case.sizes else "symbol"
            guilty.append(f"{what} named {name!r}")
    return ", ".join(guilty) or "these names together"


# ====================================================================== shrinking

def _paths(node, path=()):
    yield path, node
    for i, a in enumerate(node.args):
        yield from _paths(a, path + (i,))


def _replace(node, path, new):
    if not path:
        return new
    args = list(node.args)
    args[path[0]] = _replace(args[path[0]], path[1:], new)
    params = dict(node.params)
    return Node(node.row, tuple(args), node.type, params)


def _leaf_candidates(case, node):
    """Small trees of the node's type: a symbol of that type already in the case, 1, ones."""
    t = node.type
    out = []
    for name, (st, flag) in _tree_symbols(case.tree).items():
        if st == t:
            out.append(make_node("symbol", (), {"name": name, "shape": st, "flag": flag}))
    if is_scalar(t):
        out.append(num("2"))
    else:
        out.append(make_node("ones", (), {"dims": t}))
        if is_square(t):
            out.append(make_node("eye", (), {"dims": (t[0],)}))
    return out


def _with_tree(case, tree, checks):
    shapes, spd, positive, all_symbols = _declarations(tree, case.sizes)
    values = {}
    gen = Generator(random.Random(0))
    gen.sizes = dict(case.sizes)
    fresh = gen.values(np.random.default_rng(0), all_symbols)
    for name in all_symbols:
        values[name] = case.values.get(name, fresh[name])
    new = Case(tree, shapes, spd, positive, dict(case.sizes), values, list(checks), case.seed)
    if not _usable(new):
        return None
    return new


def shrink(case: Case, kind: str, wrt: Optional[str], family: str, *, budget=60, time_limit_s=10.0):
    """A smaller case whose check (kind, wrt) fails with the same family (greedy, bounded)."""
    best = case
    tries = 0
    improved = True
    while improved and tries < budget:
        improved = False
        candidates = []
        for path, node in _paths(best.tree):
            for child in node.args:
                if child.type == node.type:
                    candidates.append((path, child))
            if node.args:
                for leaf in _leaf_candidates(best, node):
                    if not (leaf.row == node.row and leaf.params.get("name") == node.params.get("name")):
                        candidates.append((path, leaf))
        candidates.sort(key=lambda pc: pc[1].size() - _node_at(best.tree, pc[0]).size())
        for path, new_node in candidates:
            if tries >= budget:
                break
            tree = _replace(best.tree, path, new_node)
            if tree.size() >= best.tree.size():
                continue
            if wrt is not None and wrt not in _tree_symbols(tree):
                continue
            if kind == "jacobian" and not (is_vector(tree.type) and tree.type != (1, 1)):
                continue
            tries += 1
            smaller = _with_tree(best, tree, [(kind, wrt)] if kind != "parse" else [("value", None)])
            if smaller is None:
                continue
            check = single(smaller, kind, wrt, time_limit_s=time_limit_s) if kind != "parse" else \
                run_case(smaller, time_limit_s=time_limit_s, triage=False).checks[0]
            if check.status != SKIP and check.family is not None and _same_family(check.family, family):
                best = smaller
                improved = True
                break
    return best


def _same_family(a, b):
    strip = re.compile(r" \(only with .*\)$")
    return strip.sub("", a) == strip.sub("", b)


def _node_at(tree, path):
    for i in path:
        tree = tree.args[i]
    return tree


# ====================================================================== the summary

class Summary:
    """Counts by status and by family, and the shortest reproducer of each family."""

    def __init__(self):
        self.counts = {s: 0 for s in (PASS, WRONG, REFUSED, CRASH, SLOW, SKIP)}
        self.families = {}       # family → {"status", "count", "reproducer", "detail"}
        self.skips = {}
        self.cases = 0
        self.seconds = 0.0

    def add(self, outcome: Outcome):
        self.cases += 1
        for check in outcome.checks:
            self.counts[check.status] += 1
            self.seconds += check.seconds
            if check.status == SKIP:
                reason = re.sub(r"\d+", "N", check.detail)[:80]
                self.skips[reason] = self.skips.get(reason, 0) + 1
                continue
            if check.family is None:
                continue
            entry = self.families.setdefault(check.family, {"status": check.status, "count": 0,
                                                            "reproducer": None, "detail": ""})
            entry["count"] += 1
            repro = outcome.case.reproducer(check.kind, check.wrt)
            if entry["reproducer"] is None or len(repro["text"]) < len(entry["reproducer"]["text"]):
                entry["reproducer"] = repro
                entry["detail"] = check.detail
                entry["case"] = outcome.case

    def failures(self) -> dict:
        return {f: e for f, e in self.families.items() if e["status"] in FAILURES}

    def shrink_reproducers(self, *, budget=60, time_limit_s=10.0, statuses=FAILURES):
        """Replace the shortest reproducer of each failing family by a shrunk one."""
        for family, entry in self.families.items():
            if entry["status"] not in statuses:
                continue
            case = entry["case"]
            repro = entry["reproducer"]
            small = shrink(case, repro["kind"], repro["wrt"], family, budget=budget, time_limit_s=time_limit_s)
            if small is not case:
                check = (single(small, repro["kind"], repro["wrt"], time_limit_s=time_limit_s)
                         if repro["kind"] != "parse" else None)
                entry["unshrunk"] = repro
                entry["reproducer"] = small.reproducer(repro["kind"], repro["wrt"])
                entry["case"] = small
                if check is not None and check.detail:
                    entry["detail"] = check.detail

    def checks(self) -> int:
        return sum(self.counts.values())

    def report(self, *, include_refused=True) -> str:
        lines = [f"{self.cases} cases, {self.checks()} checks: " +
                 ", ".join(f"{s} {n}" for s, n in self.counts.items())]
        order = {WRONG: 0, CRASH: 1, SLOW: 2, REFUSED: 3}
        for family, entry in sorted(self.families.items(), key=lambda fe: (order[fe[1]["status"]], -fe[1]["count"])):
            if entry["status"] == REFUSED and not include_refused:
                continue
            r = entry["reproducer"]
            lines.append(f"\n[{entry['status']}] x{entry['count']}  {family}")
            lines.append(f"    {r['kind']}{'' if r['wrt'] is None else ' wrt ' + r['wrt']}:  {r['text']}")
            lines.append(f"    shapes={_shapes_text(r['shapes'])} sizes={r['sizes']}"
                         + (f" spd={r['spd']}" if r["spd"] else "")
                         + (f" positive={r['positive']}" if r["positive"] else ""))
            if entry["detail"]:
                lines.append(f"    {entry['detail'][:400]}")
        if self.skips:
            lines.append("\nskipped: " + "; ".join(f"{n}x {why}" for why, n in
                                                   sorted(self.skips.items(), key=lambda kv: -kv[1])))
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"cases": self.cases, "checks": self.checks(), "counts": dict(self.counts),
                "skips": dict(self.skips),
                "families": {f: {k: v for k, v in e.items() if k != "case"} for f, e in self.families.items()}}


def _shapes_text(shapes):
    return "{" + ", ".join(f"{k}: ({', '.join(str(d) for d in v)})" for k, v in shapes.items()) + "}"
