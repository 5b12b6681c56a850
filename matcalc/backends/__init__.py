"""The backends: expressions turned into code — NumPy source, compiled functions and
standalone modules.  They read expressions; they do no calculus of their own (an export
asks :mod:`matcalc.calculus` for the gradients it needs).
"""
