"""The calculus: the derivative rule table (:mod:`.rules`), the engine that applies it and
records each step (:mod:`.derive`), and the simplifier that makes results read like a
textbook (:mod:`.simplify`).  Builds on :mod:`matcalc.core` only.
"""
