"""The backends: expressions turned into code — NumPy source and its array-API variant,
compiled functions and standalone modules (NumPy, array API, PyTorch, JAX).  They read
expressions; they do no calculus of their own (an export asks :mod:`matcalc.calculus` for
the gradients it needs).
"""
