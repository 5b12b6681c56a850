"""The expression core: matrix symbols with assumptions, the nodes SymPy lacks, strict shape
checks, and the small constructors that keep expressions canonical.

The lowest layer: it knows no calculus and imports nothing else from matcalc but
:mod:`matcalc.errors`.
"""
