"""matcalc: symbolic matrix calculus with textbook results.

The public API, re-exported from the modules below; nothing else lives here.
"""
from .core import shapes as _shapes  # noqa: F401  (installs strict shape checks on import)
from .core import mixing as _mixing  # noqa: F401  (lets scalars and matrices mix in + and −)
from .errors import (
    ArgumentError, BudgetError, CompileError, DifferentiationError, FileError, InvalidNameError,
    MatcalcError, ParseError, ShapeError,
)
from .core.budget import Budget
from .core.symbols import colvec, dim, matrix, rowvec, scalar
from .core.functions import (  # noqa: A004 - abs, max, min and sum are NumPy's names
    abs, arccos, arcsin, arctan, cos, cosh, det, diag, erf, exp, expm1, eye, gelu, hadamard, inv,
    log, log1p, logdet, logsigmoid, logsumexp, max, maximum, mean, min, minimum, norm, ones, power,
    reciprocal, relu, sigmoid, sign, sin, sinh, softmax, softplus, sqrt, square, step, sum, tan,
    tanh, trace,
)
from .apps.parse import parse

from .calculus.derive import Derivation, Step, derive, gradient, hessian, jacobian, vjp
from .calculus.simplify import simplify
from . import output as _output  # noqa: F401  (registers the presenters of Derivation)
from .output.text import to_text
from .output.render import to_latex, write_pdf
from .backends.compile import compile
from .backends.function import CompiledFunction
from .backends.export import export, export_numpy
from .apps.train import Trainer, TrainResult, train
from .errors import DivergenceError
from .apps.verify import VerificationResult, verify
from .apps.catalogue import verify_catalogue
from .apps.solve import solve_stationary

from ._version import __version__
