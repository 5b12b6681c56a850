"""Python names for user symbols in generated code.

A symbol's name is user text; in generated code it becomes a parameter or a variable whose
spelling is chosen here, so that it is always a valid identifier and never a name the
generated code itself uses.  Users still pass arguments by the symbol's own name.
"""
from __future__ import annotations

import keyword
import re


# Names the generated and exported modules use for themselves.
RESERVED = frozenset({
    "np", "DTYPE", "EXPCAP", "WRT", "eps", "seed", "arguments", "rng", "errors", "point", "direction",
    "plus", "minus", "numeric", "analytic", "gradient", "gradients", "loss", "name", "float",
})


def safe_name(name: str, taken: set) -> str:
    base = re.sub(r"\W", "_", name)
    if not base or base[0].isdigit():
        base = "v_" + base
    if keyword.iskeyword(base) or base.startswith("_") or base in RESERVED:
        base = "v_" + base.lstrip("_")
    candidate, i = base, 1
    while candidate in taken:
        i += 1
        candidate = f"{base}_{i}"
    taken.add(candidate)
    return candidate
