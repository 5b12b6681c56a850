"""Naming intermediates: the structure pass of the output layer.

A derivation is written the way a textbook writes it by naming subexpressions: the forward
pass (``Z_1 = X W_1 + 1 b_1``, ``A_1 = σ(Z_1)``, ``Ŷ = softmax(Z_2)``), the backpropagated
errors (``G_2 = ∂L/∂Z_2``), and large subexpressions that repeat (``R``).  This module finds
those names (:func:`name_intermediates`, :func:`shared_names`) and writes expressions with
them (:func:`substitute`).  It never changes a value and does no calculus: names stand for
subexpressions that are there.

**Cost.**  The engine builds results as hash-consed DAGs: one object per distinct
subexpression.  A derivative through k nested softmaxes has a few hundred distinct nodes,
but printed as a tree it has 2^k copies of the innermost ones.  So every walk here visits
each *distinct* node once, children first, and remembers what it found in tables keyed by
node (:class:`_Tables`).  The tables live for one top-level call (:func:`per_call`):
nothing leaks from one call to the next, and within a call the passes share their work.
New nodes are built with :mod:`matcalc.core.algebra` (``build``, ``rebuild``), never with
SymPy's constructors, which may evaluate, and each node visited is charged to the work
budget (:mod:`matcalc.core.budget`), so an output too large to write stops with a
:class:`~matcalc.errors.BudgetError` rather than running for minutes.

What the printers cannot be spared is the size of what they print: a printer walks its
expression as a tree.  :func:`shared_names` keeps that tree small by naming every shared
subexpression whose printed tree would otherwise be large, innermost first.
"""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import sympy
from sympy import Basic
from sympy.core.sorting import default_sort_key
from sympy.matrices.expressions import (
    HadamardProduct, Identity, MatAdd, MatMul, MatrixExpr, OneMatrix, Trace, Transpose, ZeroMatrix,
)
from sympy.matrices.expressions.hadamard import HadamardPower
from sympy.matrices.expressions.matexpr import MatrixSymbol as SympyMatrixSymbol

from ..core import budget
from ..core.algebra import build, intern, rebuild
from ..core.functions import Elementwise, Log, Norm, Relu, Sigmoid, Softmax, SumAll, Tanh
from ..core.symbols import MatrixSymbol, matrix_symbols
from ..errors import ArgumentError
from .latex import latex

__all__ = ["Name", "name_intermediates", "shared_names", "substitute", "occurs", "per_call", "LONG", "LARGE"]

ACTIVATIONS = (Sigmoid, Tanh, Relu, Softmax)
LONG = 300
"""An expression whose printed tree has more nodes than this (some thousand characters)
is too long to print as it is: :func:`shared_names` names subexpressions in it."""
LARGE = 40
"""...and then names each shared subexpression whose repetitions would print more than
this many nodes: (nodes − 1) × (occurrences − 1) > LARGE, the nodes a name saves."""

_FORBIDDEN_IN_NAMES = set("$%&#\n\r")
_LEAVES = (SympyMatrixSymbol, OneMatrix, Identity, ZeroMatrix)


@dataclass
class Name:
    """A named intermediate: ``symbol`` stands for ``definition`` (written with earlier names).

    ``role`` is "forward" (the forward pass), "adjoint" (a backpropagated error),
    "given" (the user's), "repeated" or "gradient"; ``step`` is the index of the step whose
    result it names, if any.
    """
    symbol: Basic
    definition: Basic
    role: str
    step: int | None = None


# ================================================================ per-call tables

class _Tables:
    """What the walks of one top-level call have learnt about nodes, keyed by node."""

    def __init__(self):
        self.canonical: dict = {}       # node → its canonical form (see _canonical)
        self.sizes: dict = {}           # node → number of nodes of its tree
        self.matrix_sizes: dict = {}    # node → number of matrix nodes of its tree
        self.masks: dict = {}           # node → bit set of the matrix symbols below it
        self.bits: dict = {}            # matrix symbol → its bit
        self.transposed: dict = {}      # node → _transposed(node)
        self.replaced: dict = {}        # a pass, (pattern, symbol) or a run of them →
        #                                 {node: (node written with them, whether changed)}
        self.passes: dict = {}          # (definition, symbol) → the passes of substitute


_CURRENT: ContextVar[_Tables | None] = ContextVar("matcalc_naming_tables", default=None)


@contextmanager
def per_call():
    """Share one set of tables among the helpers called inside the block; the outermost
    block of a call creates them and drops them at its end."""
    if _CURRENT.get() is not None:
        yield
        return
    token = _CURRENT.set(_Tables())
    try:
        yield
    finally:
        _CURRENT.reset(token)


def _tables() -> _Tables:
    """The tables of the running call (fresh ones, used once, outside any call)."""
    return _CURRENT.get() or _Tables()


# ================================================================ walks

def _children(node) -> tuple:
    """The arguments a walk descends into: none for leaves (a matrix symbol's name and
    shape are not subexpressions)."""
    if not isinstance(node, Basic) or isinstance(node, _LEAVES):
        return ()
    return node.args


def _walk(expr, seen, children=_children, done=()):
    """(node, children(node)) for the distinct nodes of ``expr`` not in ``seen`` or
    ``done``, children before parents, in reading order (what a recursive walk would give,
    without its recursion limit).  Adds each node to ``seen``; nodes in ``done`` are
    neither yielded nor descended into.  Each node yielded is charged to the budget."""
    if not isinstance(expr, Basic) or expr in seen or expr in done:
        return
    seen.add(expr)
    kids = children(expr)
    stack = [(expr, kids, iter(kids))]
    charge = budget.charge
    while stack:
        node, kids, pending = stack[-1]
        for child in pending:
            if isinstance(child, Basic) and child not in seen and child not in done:
                seen.add(child)
                grandchildren = children(child)
                stack.append((child, grandchildren, iter(grandchildren)))
                break
        else:
            stack.pop()
            charge(1)
            yield node, kids


def _postorder(expr, seen, children=_children, done=()):
    """The distinct nodes of ``expr`` not in ``seen`` or ``done``, children first (see
    :func:`_walk`)."""
    for node, _ in _walk(expr, seen, children, done):
        yield node


def _bottom_up(expr, table, combine, children=_children):
    """``table[node] = combine(node, [table[c] for c in children(node)])`` for every node
    of ``expr`` not in ``table`` yet, children first; returns ``table[expr]``."""
    try:
        return table[expr]
    except KeyError:
        pass
    for node, kids in _walk(expr, set(), children, table):
        table[node] = combine(node, [table[c] for c in kids])
    return table[expr]


def _nodes(*exprs) -> list:
    """The distinct nodes of ``exprs``, children first."""
    return _nodes_with(exprs, _children)


def _nodes_with(exprs, children) -> list:
    seen: set = set()
    return [node for e in exprs for node in _postorder(e, seen, children)]


# ================================================================ facts about nodes

def _canonical(expr):
    """``expr`` with the terms of sums and the factors of entrywise products in a fixed
    order: unevaluated SymPy sums keep the order they were built in, and a name must
    match ``A x - b`` however the engine ordered it.  Used only to compare: the order is
    that of the nodes' hashes, which is fixed within one run of Python only."""
    if not isinstance(expr, Basic):
        return expr
    table = _tables().canonical
    try:
        return table[expr]
    except KeyError:
        return _bottom_up(expr, table, _canonical_of)


def _canonical_of(node, args):
    if not args:
        return node
    if isinstance(node, (MatAdd, HadamardProduct)):
        args = _in_fixed_order(args)
    return node if all(a is b for a, b in zip(args, node.args)) else rebuild(node, args)


def _in_fixed_order(nodes) -> list:
    """``nodes`` sorted by hash; nodes whose hashes collide by SymPy's sort key (a tree
    walk, so only where needed), so that equal collections always come out alike."""
    nodes = sorted(nodes, key=hash)
    if len({hash(n) for n in nodes}) < len(set(nodes)):
        nodes = sorted(nodes, key=lambda n: (hash(n), default_sort_key(n)))
    return nodes


def _same(a, b) -> bool:
    """Equal, or equal once sums and entrywise products are put in canonical order."""
    if _equal(a, b):
        return True
    return isinstance(a, Basic) and isinstance(b, Basic) and _equal(_canonical(a), _canonical(b))


def _equal(a, b) -> bool:
    # Hashes are remembered per node; SymPy's == walks both trees until they differ.
    return a is b or (hash(a) == hash(b) and a == b)


def _size(expr) -> int:
    """How many nodes the printed tree of ``expr`` has (leaves count one)."""
    return _bottom_up(expr, _tables().sizes, lambda node, sizes: 1 + sum(sizes)) \
        if isinstance(expr, Basic) else 1


def _matrix_size(expr) -> int:
    """How many matrix nodes the tree of ``expr`` has (scalar coefficients do not count)."""
    if not isinstance(expr, Basic):
        return 0
    return _bottom_up(expr, _tables().matrix_sizes,
                      lambda node, sizes: (1 + sum(sizes)) if isinstance(node, MatrixExpr) else 0)


def _mask(expr) -> int:
    """The matrix symbols below ``expr``, as a bit set (an expression can contain another
    only if it contains all of its symbols)."""
    if not isinstance(expr, Basic):
        return 0
    tables = _tables()

    def combine(node, masks):
        if isinstance(node, SympyMatrixSymbol):
            return tables.bits.setdefault(node, 1 << len(tables.bits))
        mask = 0
        for m in masks:
            mask |= m
        return mask

    return _bottom_up(expr, tables.masks, combine)


def _is_vector_shape(shape) -> bool:
    return shape[0] == 1 or shape[1] == 1


# ================================================================ substitution

def _with_coefficient(coefficient, factors):
    """coefficient × the product of ``factors``, built without evaluation."""
    if coefficient == 1 and len(factors) == 1:
        return factors[0]
    return build(MatMul, *([coefficient] if coefficient != 1 else []), *factors)


def _replace_part(expr, pattern, symbol):
    """Replace an occurrence of ``pattern`` inside a flat product or sum, where a
    node-by-node match cannot see it: a run of factors (``c X^T (Ŷ-Y)`` with
    ``G = c(Ŷ-Y)``), a subset of terms or of entrywise factors, or a scalar that can move
    into one factor of an entrywise product (``c (A ⊙ B) = (c A) ⊙ B``).  Returns (expr, found)."""
    if isinstance(expr, MatMul) and isinstance(pattern, MatMul):
        # (A single-factor pattern with coefficient 1 is matched node by node.)
        coefficient, factors = expr.as_coeff_matrices()
        c, run = pattern.as_coeff_matrices()
        ratio = coefficient / c
        # Only whole multiples: 2 G reads well, ½ G does not.
        if c == 1 or ratio.is_Integer:
            n = len(run)
            for i in range(len(factors) - n + 1):
                if all(_same(f, r) for f, r in zip(factors[i:i + n], run)) and (n > 1 or c != 1):
                    return _with_coefficient(ratio, [*factors[:i], symbol, *factors[i + n:]]), True
        if c != 1 and ratio.is_Integer:
            for i, factor in enumerate(factors):
                if not isinstance(factor, HadamardProduct):
                    continue
                for j, inner in enumerate(factor.args):
                    if isinstance(inner, MatMul) and inner.as_coeff_matrices()[0] != 1:
                        continue
                    scaled = _with_coefficient(c, [inner] if not isinstance(inner, MatMul)
                                               else [*inner.as_coeff_matrices()[1]])
                    new, found = _replace(scaled, pattern, symbol)
                    if found:
                        entries = [*factor.args[:j], new, *factor.args[j + 1:]]
                        return _with_coefficient(ratio, [*factors[:i], build(HadamardProduct, *entries),
                                                         *factors[i + 1:]]), True
    for kind in (MatAdd, HadamardProduct):
        if isinstance(expr, kind) and isinstance(pattern, kind):
            have = Counter(_canonical(a) for a in expr.args)
            want = Counter(_canonical(a) for a in pattern.args)
            if all(have[a] >= k for a, k in want.items()) and have != want:
                rest = []   # the other terms as they were, in their order
                for a in expr.args:
                    if want[_canonical(a)] > 0:
                        want[_canonical(a)] -= 1
                    else:
                        rest.append(a)
                return build(kind, symbol, *rest), True
    return expr, False


def _replace(expr, pattern, symbol):
    """(expr with each occurrence of pattern replaced by symbol, whether one was).

    One pass over the distinct nodes of ``expr``, remembered per node for this
    (pattern, symbol) for the rest of the call; nodes that lack one of the pattern's
    symbols cannot contain it and are not entered."""
    if not isinstance(expr, Basic):
        return expr, False
    tables = _tables()
    table = tables.replaced.setdefault((pattern, symbol), {})
    try:
        return table[expr]
    except KeyError:
        pass
    needed, target, masks, matched = _mask(pattern), _canonical(pattern), tables.masks, set()

    def inside(node):
        mask = masks.get(node)
        if mask is None:
            mask = _mask(node)
        if mask & needed != needed:
            return ()
        # Equal nodes have the same symbols; only then is the canonical form looked at.
        if mask == needed and _equal(_canonical(node), target):
            matched.add(node)
            return ()
        return _children(node)

    def combine(node, replaced):
        if node in matched:
            return symbol, True
        if not replaced:        # a leaf, or a node that cannot hold the pattern
            return node, False
        found = any(hit for _, hit in replaced)
        if found:
            node = rebuild(node, [new for new, _ in replaced])
        while True:
            node, hit = _replace_part(node, pattern, symbol)
            if not hit:
                return node, found
            found = True

    return _bottom_up(expr, table, combine, inside)


def _transposed(expr):
    """(expr)ᵀ with the transpose pushed down to the symbols, the form in which the engine
    writes the transpose of a named intermediate: (A ⊙ B)ᵀ = Aᵀ ⊙ Bᵀ, (AB)ᵀ = BᵀAᵀ."""

    def inside(node):
        if isinstance(node, (MatAdd, HadamardProduct)) or isinstance(node, Elementwise):
            return node.args
        if isinstance(node, MatMul):
            return tuple(node.as_coeff_matrices()[1])
        return ()

    def combine(node, transposed):
        if isinstance(node, Transpose):
            return node.arg
        if isinstance(node, (MatAdd, HadamardProduct, Elementwise)):
            return build(type(node), *transposed)
        if isinstance(node, MatMul):
            return _with_coefficient(node.as_coeff_matrices()[0], transposed[::-1])
        if isinstance(node, OneMatrix):
            return build(OneMatrix, node.shape[1], node.shape[0])
        if isinstance(node, Identity) or node.shape == (1, 1):
            return node
        if isinstance(node, SympyMatrixSymbol):
            return intern(node.T)
        return build(Transpose, node)

    return _bottom_up(expr, _tables().transposed, combine, inside)


def substitute(expr, names):
    """Write ``expr`` with the named intermediates, earliest name first (a transposed
    occurrence becomes the name's transpose).

    The meaning is one pass per name, in order, over the distinct nodes (each pass
    remembered for the rest of the call).  A *run* of names each defined with the one
    before it (the forward pass: Z_1, A_1 = σ(Z_1), Z_2 = A_1 W_2 + …) is written in one
    pass instead, trying the names in turn at each node, children first
    (:func:`_replace_run`).  No definition in such a run can contain a later one, since
    every later one holds a symbol that did not exist when it was written, and that
    makes the single pass give what the passes one by one would, with two exceptions,
    each name of which is a run of its own: a scaled product ``c P`` can be matched by
    moving ``c`` into an entrywise product below the node (see :func:`_replace_part`),
    which builds new nodes there that a later pass would visit and a single pass would
    not; and a definition can hold its own transpose (``Pᵀ`` holds ``P``)."""
    if expr is None:
        return None
    with per_call():
        tables = _tables()
        run, previous = [], None
        for name in names:
            passes, alone = tables.passes.get((name.definition, name.symbol)) or _passes(name)
            bit = tables.bits.get(previous.symbol) if previous is not None else None
            if run and not alone and bit is not None and passes[0][2] & bit:
                run.append(passes)
            else:
                expr = _apply(expr, run)
                run = [passes]
            previous = None if alone else name
        expr = _apply(expr, run)
    return expr


def _apply(expr, run):
    """``expr`` written with a run of names (a list of their passes)."""
    if len(run) == 1:
        mask = _mask(expr)
        for pattern, symbol, needed in run[0]:
            if mask & needed == needed:   # else expr cannot contain the pattern
                new, found = _replace(expr, pattern, symbol)
                if found:
                    expr, mask = new, _mask(new)
        return expr
    if run:
        expr, _ = _replace_run(expr, [p for passes in run for p in passes])
    return expr


def _replace_run(expr, passes):
    """(expr written with each of ``passes`` — (pattern, symbol, pattern's symbols) — in
    turn at each node, children first; whether anything was replaced).  Equals one
    :func:`_replace` per pattern when no pattern contains a later one (see
    :func:`substitute`), in one walk over the distinct nodes instead of one per pattern."""
    if not isinstance(expr, Basic):
        return expr, False
    tables = _tables()
    table = tables.replaced.setdefault(tuple((p, s) for p, s, _ in passes), {})
    try:
        return table[expr]
    except KeyError:
        pass
    masks, anywhere = tables.masks, 0
    for _, _, needed in passes:
        anywhere = -1 if needed == 0 else anywhere | needed   # -1: a pattern without symbols

    def inside(node):
        mask = masks.get(node)
        if mask is None:
            mask = _mask(node)
        return _children(node) if mask & anywhere else ()

    def combine(node, replaced):
        found = any(hit for _, hit in replaced)
        if found:
            node = rebuild(node, [new for new, _ in replaced])
        mask = _mask(node)
        if replaced or not _children(node):   # a node not entered cannot hold a pattern
            for pattern, symbol, needed in passes:
                if mask & needed != needed:
                    continue
                if mask == needed and _equal(_canonical(node), _canonical(pattern)):
                    return symbol, True
                if isinstance(node, (MatMul, MatAdd, HadamardProduct)):
                    while True:
                        node, hit = _replace_part(node, pattern, symbol)
                        if not hit:
                            break
                        found, mask = True, _mask(node)
        return node, found

    return _bottom_up(expr, table, combine, inside)


def occurs(part, within) -> bool:
    """Whether ``part`` (or its transpose) is a subexpression of one of ``within``, with the
    terms of sums and the factors of entrywise products in any order: what a name given
    for ``part`` can stand for."""
    with per_call():
        wanted = {_canonical(part), _canonical(_transposed(part))}
        return any(node in wanted for node in _nodes(*(_canonical(e) for e in within)))


def _passes(name):
    """(The (pattern, replacement, pattern's symbols) triples that write ``name``: its
    definition, and the transposed definition for a matrix (Sᵀ, or S itself when 1×1);
    whether the name must be written alone, as a scaled product (see :func:`substitute`))."""
    table = _tables().passes
    key = (name.definition, name.symbol)
    try:
        return table[key]
    except KeyError:
        pass
    passes = [(name.definition, name.symbol, _mask(name.definition))]
    if isinstance(name.symbol, MatrixExpr) and _matrix_size(name.definition) > 1:
        symbol = name.symbol if name.symbol.shape == (1, 1) else build(Transpose, name.symbol)
        transposed = _transposed(name.definition)
        passes.append((transposed, symbol, _mask(transposed)))
    alone = any(isinstance(p, MatMul) and p.as_coeff_matrices()[0] != 1 for p, _, _ in passes) \
        or any(_size(p) < _size(name.definition) for p, _, _ in passes)
    result = table[key] = (passes, alone)
    return result


# ================================================================ names

class _NamePool:
    """Fresh names that do not print like any symbol of the derivation."""

    def __init__(self, taken_tex):
        self.taken = set(taken_tex)

    def claim(self, name: str) -> bool:
        tex = latex(MatrixSymbol(name, 1, 2))
        if tex in self.taken:
            return False
        self.taken.add(tex)
        return True

    def fresh(self, letters, index, lower=False, separator="_"):
        for letter in letters:
            letter = letter.lower() if lower else letter
            name = letter if index is None else f"{letter}{separator}{index}"
            if self.claim(name):
                return name
        k = 1
        while not self.claim(f"{letters[0]}_{{{index or ''}{k}}}"):
            k += 1
        return f"{letters[0]}_{{{index or ''}{k}}}"


def _taken_tex(exprs) -> set:
    """The LaTeX of every matrix symbol of ``exprs`` and of every scalar symbol SymPy
    counts free in them (not the dimensions of a matrix symbol, which SymPy does not)."""
    free = [node for node in _nodes_with(exprs, lambda n: () if isinstance(n, SympyMatrixSymbol) else n.args)
            if isinstance(node, sympy.Symbol)]
    return {latex(s) for s in matrix_symbols(*exprs)} | {latex(s) for s in free}


def _balanced(text) -> bool:
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _check_name(name):
    r"""A display name: SymPy style ("Z_1", "Yhat", "delta2") or LaTeX (r"\hat{Y}", "z^{[1]}")."""
    if not isinstance(name, str) or not name.strip() or set(name) & _FORBIDDEN_IN_NAMES \
            or not _balanced(name) or name.endswith("\\"):
        raise ArgumentError(f"a name must be a symbol name such as 'G', 'Z_1', 'Yhat' or LaTeX such as "
                         f"r'\\hat{{Y}}' (balanced braces, no $ % & #), not {name!r}")
    return name


def _symbol_for(name, expr):
    if isinstance(expr, MatrixExpr):
        return MatrixSymbol(name, *expr.shape)
    return sympy.Symbol(name, real=True)


_LOSS_PART = (sympy.Add, sympy.Mul, sympy.Pow, SumAll, Trace, Transpose, MatAdd, HadamardProduct,
              HadamardPower, Log, Norm)


def _is_loss_part(node) -> bool:
    """Whether ``node`` is part of a loss rather than of a model: sums, scalings, logs,
    norms and entrywise products, which compare a prediction with a target.  A matrix
    product is part of a model, unless its other factors are ones (𝟏ᵀ E 𝟏 sums E)."""
    if isinstance(node, MatMul):
        _, matrices = node.as_coeff_matrices()
        return sum(1 for m in matrices if not isinstance(m, OneMatrix)) <= 1
    return isinstance(node, _LOSS_PART)


def _prediction(function):
    """The model's prediction, if it is an activation: the one activation met walking
    down from the loss through :func:`_is_loss_part` nodes only (the σ of a logistic
    loss, the softmax of a cross-entropy).  A hidden layer, met only through a product
    with a weight (tanh(X W₁) W₂), is not a prediction; nor is anything when no single
    activation is reached."""
    frontier, seen = [], set()
    for node in _postorder(function, seen, lambda n: n.args if _is_loss_part(n) else ()):
        if not _is_loss_part(node) and isinstance(node, ACTIVATIONS):
            frontier.append(node)
    return frontier[0] if len(frontier) == 1 else None


def _forward_names(function, given, pool):
    """Names for the forward pass: the user's first, then Z_k for the argument of each
    activation, A_k for its output, and Ŷ for the model's prediction (see
    :func:`_prediction`)."""
    nodes = _nodes(function)
    # The layers, innermost first: each activation of a computed argument is layer k, its
    # output A_k, its argument Z_k (unless that is the layer below's output).
    layers = [n for n in nodes if isinstance(n, ACTIVATIONS) and not isinstance(n.arg, _LEAVES)]
    single = len(layers) == 1
    index = {}
    for k, layer in enumerate(layers):
        index.setdefault(layer, None if single else k + 1)
        if not isinstance(layer.arg, ACTIVATIONS):
            index.setdefault(layer.arg, None if single else k + 1)

    prediction = _prediction(function)
    chosen = []
    for node in nodes:
        lower = isinstance(node, MatrixExpr) and _is_vector_shape(node.shape)
        if _canonical(node) in given:
            name = given[_canonical(node)]
            if not pool.claim(name):
                raise ArgumentError(f"the name {name!r} is already used by a symbol of the derivation")
        elif node not in index:
            continue
        elif node is prediction:
            name = pool.fresh(["Yhat", "Phat"], None, lower)
        elif isinstance(node, ACTIVATIONS) and node in layers:
            name = pool.fresh(["A", "H", "V"], index[node], lower)
        else:
            name = pool.fresh(["Z", "S", "U"], index[node], lower)
        chosen.append((node, name))
    return chosen


def name_intermediates(function, steps, results, *, names=None, definitions=None,
                       adjoints=True, repeated=True):
    """The named intermediates of a derivation, in the order a reader meets them.

    ``steps`` are (target, before, after) triples of the reverse-mode steps (forward-mode
    steps may be passed with ``target=None``); ``results`` the final expressions.
    Returns a list of :class:`Name`.  Pure structure: no expression changes its value.
    """
    with per_call():
        return _name_intermediates(function, steps, results, names, definitions, adjoints, repeated)


def _name_intermediates(function, steps, results, names, definitions, adjoints, repeated):
    given = {}
    for expr, label in (names or {}).items():
        given[_canonical(expr)] = _check_name(label)
    for label, expr in (definitions or {}).items():
        given.setdefault(_canonical(expr), _check_name(label))

    everything = [function, *results, *(e for s in steps for e in s if e is not None)]
    pool = _NamePool(_taken_tex(everything))

    chosen: list[Name] = []
    forward = _forward_names(function, given, pool)
    forward_nodes = {_canonical(node) for node, _ in forward}
    # The error at a pre-activation Z_1 (z^{[1]}, z) is G_1 (g^{[1]}, g): same decoration.
    pre_activations = {a.arg for a in _nodes(function) if isinstance(a, ACTIVATIONS)}
    decoration = {}
    for node, label in forward:
        name = Name(_symbol_for(label, node), substitute(node, chosen), "forward")
        chosen.append(name)
        if node in pre_activations and not isinstance(node, ACTIVATIONS):
            decoration[name.symbol] = label[1:] if label[:1].isalpha() else None

    # The user's other names: defined at the step that produces them, if one does.
    steps = [tuple(substitute(e, chosen) for e in s) for s in steps]
    for expr, label in given.items():
        if expr in forward_nodes:
            continue
        if not pool.claim(label):
            raise ArgumentError(f"the name {label!r} is already used by a symbol of the derivation")
        definition = substitute(expr, chosen)
        at = next((i for i, s in enumerate(steps) if _same(s[2], definition)), None)
        chosen.append(Name(_symbol_for(label, expr), definition, "given", at))

    if adjoints:
        # ∂L/∂Z_k feeds both W_k and b_k: name it G_k (the seeds' δ), as textbooks do.
        named_steps = {n.step for n in chosen}
        for i, (target, _, after) in enumerate(steps):
            budget.tick()
            if target not in decoration or after is None:
                continue
            after = substitute(after, chosen)
            if isinstance(after, _LEAVES) or i in named_steps:
                continue
            letter = "g" if _is_vector_shape(after.shape) else "G"
            label = letter + decoration[target] if decoration[target] is not None else None
            if label is None or not pool.claim(label):
                label = pool.fresh(["G", "D", "E"], None, letter == "g")
            chosen.append(Name(_symbol_for(label, after), after, "adjoint", i))
            named_steps.add(i)

    if repeated:
        chosen += _repeated_names(steps, results, chosen, pool)
    return chosen


def _repeated_names(steps, results, chosen, pool, *, minimum_size=5, limit=3):
    """Large subexpressions that occur more than once *inside* the results and the steps'
    results, named R (or R_1, R_2, … when there are several), largest first."""
    found: list[Name] = []
    for _ in range(limit):
        expressions = [substitute(e, chosen + found)
                       for e in [*results, *(s[2] for s in steps if s[2] is not None)]]
        counts, first_seen = Counter(), {}
        # (Below a node of fewer matrix nodes than minimum_size, none has more.)
        large = lambda node: node.args if _matrix_size(node) >= minimum_size else ()  # noqa: E731
        for e in dict.fromkeys(expressions):
            for node in _postorder(e, set(), lambda n: () if isinstance(n, _LEAVES) else large(n)):
                if node is e or not isinstance(node, MatrixExpr) or isinstance(node, _LEAVES):
                    continue
                if _matrix_size(node) >= minimum_size:
                    counts[node] += 1
                    first_seen.setdefault(node, len(first_seen))
        candidates = [n for n, c in counts.items() if c >= 2]
        if not candidates:
            break
        best = max(candidates, key=lambda n: (_matrix_size(n), -first_seen[n]))
        if isinstance(best, Transpose) and not isinstance(best.arg, _LEAVES):
            best = best.arg   # r = x − μ, written rᵀ where it is transposed
        found.append(Name(_symbol_for(pool.fresh(["R", "Q", "T"], len(found) + 1, _is_lower(best)), best),
                          best, "repeated"))
    if len(found) == 1 and pool.claim(str(found[0].symbol.name)[0]):
        found[0].symbol = _symbol_for(str(found[0].symbol.name)[0], found[0].definition)
    for name in found:
        name.step = next((i for i, s in enumerate(steps)
                          if s[2] is not None and _same(substitute(s[2], chosen), name.definition)), None)
    return found


def _is_lower(node) -> bool:
    return isinstance(node, MatrixExpr) and _is_vector_shape(node.shape)


def _worth_a_name(node, size) -> bool:
    """A matrix subexpression, or a scalar computed from matrices, of more than a few nodes
    (never a coefficient such as 2/N)."""
    return size > 5 and (isinstance(node, MatrixExpr) or _mask(node) != 0)


def shared_names(expressions, new_symbol, *, large=LARGE, long=LONG):
    """Names for the subexpressions that would make ``expressions`` too long to print.

    A printer writes an expression as a tree, so a subexpression shared by several parents
    is written once per path to it, and nested sharing multiplies: the DAG of a derivative
    may have a few hundred nodes and its tree millions.  When one of the expressions has
    more than ``long`` nodes as a tree, every non-leaf subexpression that occurs more than
    once (twice in one parent, under two parents, or in two of the expressions) and whose
    repetitions would print more than ``large`` nodes gets a name, innermost first:
    (n − 1)(k − 1) > large for a subexpression of k occurrences whose printed tree, written
    with the names chosen so far, has n nodes (twice, more than 41 nodes; three times,
    more than 21), and n > 5.  ``new_symbol(node)`` makes the symbol.  Expressions short
    enough to print are left as they are.

    Returns (the names, each defined with earlier ones; the expressions written with them).
    Two passes over the distinct nodes.
    """
    with per_call():
        unique = list(dict.fromkeys(e for e in expressions if isinstance(e, Basic)))
        if all(_size(e) <= long for e in unique):
            return [], list(expressions)
        occurrences, seen = Counter(unique), set()
        for e in unique:
            for node in _postorder(e, seen):
                occurrences.update(_children(node))

        names, named, written, sizes = [], {}, {}, {}
        done: set = set()
        for e in unique:
            for node in _postorder(e, done):
                args, size = [], 1
                for child in _children(node):
                    if child in named:
                        args.append(named[child].symbol)
                        size += 1
                    else:
                        args.append(written.get(child, child))
                        size += sizes.get(child, 1)
                changed = any(a is not b for a, b in zip(args, node.args))
                written[node] = rebuild(node, args) if args and changed else node
                sizes[node] = size
                if (size - 1) * (occurrences[node] - 1) > large and _worth_a_name(node, size):
                    name = Name(new_symbol(node), written[node], "repeated")
                    names.append(name)
                    named[node] = name
        rewritten = [named[e].symbol if e in named else written.get(e, e) if isinstance(e, Basic) else e
                     for e in expressions]
        return names, rewritten
