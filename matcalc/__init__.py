"""matcalc: symbolic matrix calculus with textbook results.

The public API, re-exported from the modules below; nothing else lives here.
"""
from . import shapes as _shapes  # noqa: F401  (installs strict shape checks on import)
from .errors import (
    ArgumentError, CompileError, DifferentiationError, MatcalcError, ParseError, ShapeError,
)
from .symbols import colvec, dim, matrix, rowvec, scalar
from .functions import (
    det, diag, exp, eye, hadamard, inv, log, logdet, logsumexp, mean, norm, ones, power,
    relu, sigmoid, softmax, sqrt, step, sum, tanh, trace,
)
from .parse import parse

from .derive import Derivation, Step, derive, gradient, hessian, jacobian
from .simplify import simplify
from .printing import to_text
from .render import to_latex, write_pdf
from .compile import CompiledFunction, compile, export_numpy
from .train import Trainer, TrainResult, train
from .errors import DivergenceError
from .verify import VerificationResult, verify, verify_catalogue
from .solve import solve_stationary

__version__ = "0.1.0"
