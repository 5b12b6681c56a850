"""The applications built on the layers below: the text syntax (:mod:`.parse`), checks of
claimed formulas (:mod:`.verify`) and the identity catalogue, stationary points
(:mod:`.solve`), training (:mod:`.train`), the seed examples and the command line.
"""
