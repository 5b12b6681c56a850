"""Buffer reuse: entrywise results written into the memory of temporaries that are dead.

The printer gives every node a variable of its own, so a function keeps each temporary
alive until it returns, and every entrywise line allocates a fresh array.  On large arrays
that costs more than the arithmetic: fresh memory is paged in (zeroed by the kernel) on
every call.  :func:`reuse_buffers` rewrites the printed lines so that an entrywise result
is computed in the buffer of an operand that is not read again::

    t2 = t1 + b1                →   t2 = np.add(t1, b1, out=t1)
    t20 = t18 * t4 * t19        →   t20 = np.multiply(t18, t4, out=t18)
                                    t20 *= t19

A temporary ``u`` lends its buffer to the line ``v = E`` only when all of these hold (the
rules that make the rewrite safe, checked on the code's syntax tree and on the shapes the
printer recorded, never by guessing):

* ``u`` holds an array of its own: its line gives a new array (an operator, an entrywise
  function of the namespace, ``_exp_capped``, a sum, maximum or minimum, ``where``) and no
  line reads it into anything else (a ``.T``, a ``reshape``, an alias could share its
  memory);
* ``u`` and ``v`` are full arrays of the same stored shape (:attr:`Printer.arrays`), so
  broadcasting ``E`` never needs more room than ``u`` has;
* ``u`` appears once in ``E``, on a path of entrywise operations from ``E``'s root, and no
  line after this one reads it (the ``return`` line included).

Inputs are never written (they are not assigned by any line), and neither is a variable
the function returns.  The NumPy code and the PyTorch variant of the array-API code are
rewritten (both namespaces take ``out=``); the generic array-API code and JAX's are not.
"""
from __future__ import annotations

import ast

from .spelling import Spelling

# Python's operators as the namespace's functions: ``a + b`` is ``add(a, b)`` …
_OPERATORS = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide", ast.Pow: "pow"}
_AUGMENTED = {ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*=", ast.Div: "/=", ast.Pow: "**="}
_COMMUTATIVE = (ast.Add, ast.Mult)
_HELPERS_WITH_OUT = {"_exp_capped"}   # prelude helpers that take out= (their first argument's buffer)
_REDUCTIONS = {"sum", "max", "min"}   # x.sum(…), xp.max(x, …): a new array (or a number)

NOTE = "# out=t: the result is written into the memory of t, which is not read again"


def reuse_buffers(lines: list[str], arrays: dict, spelling: Spelling) -> list[str]:
    """``lines`` (a function body: comments, ``var = code`` lines, the ``return``) with
    entrywise results written into dead temporaries' buffers; ``arrays`` maps each variable
    known to hold a full array to its stored shape, None where unknown (see the module
    docstring)."""
    arrays = {name: shape for name, shape in arrays.items() if shape is not None}
    statements = [(i, ast.parse(line).body[0]) for i, line in enumerate(lines) if not line.startswith("#")]
    last_read = {}
    for i, node in statements:
        for name in _names_read(node):
            last_read[name] = i
    owned = _owned(statements, arrays, spelling)
    out = list(lines)
    for i, node in statements:
        if not (isinstance(node, ast.Assign) and node.targets[0].id in arrays):
            continue
        target, shape = node.targets[0].id, arrays[node.targets[0].id]

        def dead(path):   # a temporary of the result's shape whose last reader is this line
            name = path[-1].id if isinstance(path[-1], ast.Name) else None
            return name in owned and arrays[name] == shape and last_read[name] == i and \
                _count(node.value, name) == 1

        paths = list(_entrywise_paths(node.value, spelling))
        lent = next((path for path in paths if dead(path)), None)
        if lent is not None:
            out[i] = "\n".join(_in_place(target, lent, lines[i], spelling, lender=lent[-1].id))
            continue
        # else the deepest new array of the result's shape on such a path holds the ops above it
        inner = [path[:k + 1] for path in paths for k in range(1, len(path))
                 if _gives_new_array(path[k], spelling) and _has_shape(path[k], shape, arrays, spelling)]
        if inner:
            out[i] = "\n".join(_in_place(target, max(inner, key=len), lines[i], spelling))
    if out != lines:   # the note goes after the lines reading the dimensions, which come first
        first = next(i for i, line in enumerate(lines)
                     if line.startswith("#") or not _is_dimension(ast.parse(line).body[0]))
        out.insert(first, NOTE)
    return "\n".join(out).split("\n")


def _names_read(node) -> set:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _is_dimension(node) -> bool:
    """``n = X.shape[0]``: the lines reading dimensions off the arguments come first."""
    return isinstance(node, ast.Assign) and isinstance(node.value, ast.Subscript) and \
        isinstance(node.value.value, ast.Attribute) and node.value.value.attr == "shape"


def _owned(statements, arrays, spelling) -> set:
    """The variables that hold an array of their own: assigned once, by a line that gives
    a new array, and never read by a line that might not (a view could share the memory)."""
    assigned, shared = {}, set()
    for _, node in statements:
        if not isinstance(node, ast.Assign):
            continue
        name = node.targets[0].id
        fresh = _fresh(node.value, spelling)
        assigned[name] = fresh and name not in assigned
        if not fresh:
            shared |= _names_read(node)
    # a 1×1 array gains nothing from reuse (and a number standing for one has no buffer)
    return {name for name, ok in assigned.items()
            if ok and name in arrays and name not in shared and arrays[name] != (1, 1)}


def _fresh(node, spelling) -> bool:
    """Whether the expression ``node`` gives a new array (when it gives an array at all),
    never a view of or an alias to an operand."""
    if isinstance(node, ast.BinOp):
        return True
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, ast.USub)
    if isinstance(node, ast.Call):
        function = ast.unparse(node.func)
        reduction = isinstance(node.func, ast.Attribute) and node.func.attr in _REDUCTIONS
        return reduction or function in spelling.fresh_functions or _entrywise_call(node, spelling) is not None
    return False


def _entrywise_call(node, spelling):
    """The function's spelling when ``node`` calls an entrywise function of the namespace
    (or a helper that takes ``out=``) with positional arguments only, else None."""
    if not isinstance(node, ast.Call) or node.keywords:
        return None
    function = ast.unparse(node.func)
    if function in _HELPERS_WITH_OUT or function in spelling.entrywise_functions:
        return function
    return None


def _entrywise_paths(root, spelling):
    """Each path [root, …, leaf] from ``root`` down through entrywise operations only
    (operators and entrywise functions: the shape can only grow upwards), to a variable or
    to the first node that is not one (a ``where``, a product …)."""
    children = _entrywise_children(root, spelling)
    if children is None:
        yield [root]
        return
    for child in children:
        for path in _entrywise_paths(child, spelling):
            yield [root] + path


def _entrywise_children(node, spelling):
    """The operands of an entrywise operation ``node`` (for a helper, its array argument
    only), or None when ``node`` is something else."""
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return [node.operand]
    function = _entrywise_call(node, spelling)
    if function is None:
        return None
    return node.args[:1] if function in _HELPERS_WITH_OUT else node.args


def _gives_new_array(node, spelling) -> bool:
    """Whether ``node`` computes a new array entry by entry (an operator, an entrywise
    function, a ``where``): its result can hold the operations above it."""
    if isinstance(node, ast.Call) and not node.keywords and ast.unparse(node.func) in spelling.fresh_functions:
        return True
    return _entrywise_children(node, spelling) is not None


def _has_shape(node, shape, arrays, spelling) -> bool:
    """Whether the entrywise ``node`` surely has ``shape`` (below the result, of that
    shape): a variable of that shape is among the operands it broadcasts together."""
    if isinstance(node, ast.Name):
        return arrays.get(node.id) == shape
    children = _entrywise_children(node, spelling)
    if children is None and isinstance(node, ast.Call) and ast.unparse(node.func) in spelling.fresh_functions:
        children = node.args   # where(condition, x, y): the three broadcast together
    if children is None and isinstance(node, ast.Compare):
        children = [node.left, *node.comparators]
    return any(_has_shape(child, shape, arrays, spelling) for child in children or ())


def _count(node, name) -> int:
    return sum(1 for n in ast.walk(node) if isinstance(n, ast.Name) and n.id == name)


def _in_place(target, path, line, spelling, lender=None) -> list[str]:
    """The lines computing ``target`` along ``path`` [root, …, leaf] in one buffer: the
    variable ``lender``'s (the leaf), written with ``out=``; or else a new array, the
    leaf's value assigned to ``target``.  Each operation above updates it in place."""
    def code(node):
        return ast.get_source_segment(line, node)

    inner = path[-1]
    if lender is None:
        buffer, result = target, [f"{target} = {code(inner)}"]
    else:
        buffer, result = lender, []
    for node in reversed(path[:-1]):
        if isinstance(node, ast.BinOp):
            on_left = node.left is inner
            other = code(node.right if on_left else node.left)
            if buffer == target and (on_left or isinstance(node.op, _COMMUTATIVE)):
                result.append(f"{target} {_AUGMENTED[type(node.op)]} {other}")
            else:
                function = spelling.operators[_OPERATORS[type(node.op)]]
                args = f"{buffer}, {other}" if on_left else f"{other}, {buffer}"
                result.append(f"{target} = {function}({args}, out={buffer})")
        elif isinstance(node, ast.UnaryOp):
            result.append(f"{target} = {spelling.operators['negative']}({buffer}, out={buffer})")
        else:
            args = [buffer if arg is inner else code(arg) for arg in node.args]
            result.append(f"{target} = {ast.unparse(node.func)}({', '.join(args)}, out={buffer})")
        inner, buffer = node, target
    return result
