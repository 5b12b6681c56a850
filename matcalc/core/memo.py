"""One memo for the core: a function of an immutable node, remembered per node."""
from __future__ import annotations


def remembering(function, table: dict, limit: int):
    """``function`` with its results kept in ``table`` (cleared when it grows past ``limit``;
    correctness never depends on it).  Unhashable arguments are computed every time."""
    def remembered(expr):
        try:
            return table[expr]
        except KeyError:
            pass
        except TypeError:   # unhashable
            return function(expr)
        if len(table) > limit:
            table.clear()
        result = table[expr] = function(expr)
        return result

    remembered.__name__ = function.__name__
    remembered.__doc__ = function.__doc__
    remembered.table = table
    return remembered
