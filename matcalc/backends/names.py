"""Python names for user symbols in generated code.

A symbol's name is user text.  In generated code it becomes a parameter whose spelling is
chosen here: always a valid identifier in the form Python itself reads it (NFKC), unique,
and never a name the generated code relies on, whatever the user chose: no keyword, no
builtin, no global of the prelude (``np``, ``DTYPE``, ``EXPCAP``, the ``_``-helpers) or of the
array-API runtime (``xp``, ``DEVICE``, ``array_api_compat`` …), no
name an exported module's template uses (:mod:`.export` passes those).  Users still pass
arguments by the symbol's own name; only the code's spelling changes (``sum`` → ``v_sum``).

Symbols made by matcalc's constructors have names in NFKC form already (the door,
:func:`matcalc.core.symbols.check_name`, refuses others); SymPy's own symbols may not, and
:class:`~.function.CompiledFunction` refuses two inputs whose names Python reads as one.
"""
from __future__ import annotations

import ast
import builtins
import keyword
import unicodedata

from .array_api import RUNTIME, RUNTIME_IMPORTS, SHIMS
from .prelude import OPTIONAL_HELPERS, prelude_source


def globals_defined(source: str) -> set:
    """The module-level names ``source`` defines (imports, functions, assignments)."""
    names = set()
    nodes = list(ast.parse(source).body)
    while nodes:
        node = nodes.pop()
        if isinstance(node, ast.Try):   # try: import x / except ImportError: x = None
            nodes += node.body + node.orelse + node.finalbody + [n for h in node.handlers for n in h.body]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def names_used(source: str) -> set:
    """Every identifier ``source`` mentions: names, parameters and definitions."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


RESERVED = frozenset(
    set(dir(builtins))
    | globals_defined(prelude_source(OPTIONAL_HELPERS))
    | {"DTYPE", "EXPCAP"}     # the globals a generated function is given besides the prelude
    | globals_defined(SHIMS + RUNTIME) | set(RUNTIME_IMPORTS) | {"xp", "DEVICE"}   # and its array-API variant
    # spelt differently since the first release (they are the export template's names)
    | {"WRT", "eps", "seed", "arguments", "rng", "errors", "point", "direction", "plus", "minus",
       "numeric", "analytic", "gradient", "gradients", "loss", "name"}
)
"""Names no user symbol is spelt as in generated code."""


def safe_name(name: str, taken: set, reserved=frozenset()) -> str:
    """A fresh identifier for the user name ``name``, added to ``taken``: ``name`` itself
    when it is a usable identifier, else a close spelling (``v_`` in front, ``_`` for
    characters an identifier cannot hold, a number at the end to keep it unique)."""
    text = unicodedata.normalize("NFKC", name)    # the spelling Python reads an identifier in
    base = "".join(c if ("a" + c).isidentifier() else "_" for c in text)
    if not base or not base.isidentifier():
        base = "v_" + base
    if unicodedata.normalize("NFKC", base) != base or not base.isidentifier():
        # never reached for a name in normal form; if a character's replacement ever changed
        # the normal form, an ASCII spelling is the one Python surely reads as written
        base = "v_" + "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in base)
    if keyword.iskeyword(base) or base.startswith("_") or base in RESERVED or base in reserved:
        base = "v_" + base.lstrip("_")
    candidate, i = base, 1
    while candidate in taken:
        i += 1
        candidate = f"{base}_{i}"
    taken.add(candidate)
    return candidate
