"""``matcalc serve``: the derivation page in the browser, on the user's own machine.

One page (``GET /``): an expression in the text syntax, its declarations beside it (or
matrixcalculus.org's naming convention, :mod:`.convention`), buttons for the gradient,
the Jacobian, the Hessian and the verification of a claimed result; the answer in MathML,
the step-by-step derivation, the LaTeX, Markdown and NumPy code to copy, and (``GET
/pdf``, when pdflatex is installed) the derivation as a PDF.

The state lives in the URL: the form is sent by GET, so every page can be linked and
reloaded.  The core needs no JavaScript (the tabs are CSS; one tiny inline script, allowed
by its hash in the Content-Security-Policy, makes the Copy buttons copy).

Every request is computed by :func:`.serve_work.answer` in a worker process
(:mod:`.workers`) under the work budget (:class:`Settings`: seconds and nodes), and the
worker is killed if it is still running :data:`GRACE` seconds after the budget's time, so
no input can keep the server busy.  Nothing the user typed is evaluated; nothing is written to disk
but a PDF's temporary directory, which is removed after the response.

Status codes: 200 for a page, including one that shows a parse, shape or budget error or
a time-out (the page *is* the answer: the error is shown at its column); 413 when a field
is larger than its limit (:class:`Limits`), before any work; 422 for a value no form
sends (an unknown button or layout); 400 for a request addressed to another host name
(when serving on 127.0.0.1: a page elsewhere rebinding its name to this machine); 503 when every worker stayed busy; 500 when matcalc
itself failed (a bug to report).
"""
from __future__ import annotations

import base64
import hashlib
import shutil
import socket
import sys
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..errors import MatcalcError, ParseError
from . import serve_work
from .serve_work import ACTIONS, ASSUMPTIONS, CLAIM_KINDS, DETAILS, LAYOUTS, Question
from .workers import PoolBusy, WorkerCrashed, WorkerError, WorkerPool, WorkerTimeout

__all__ = ["create_app", "run", "Settings", "Limits", "read_form", "question_of", "render_page", "DEFAULT_PORT",
           "TEMPLATE", "EXAMPLES", "COPY_SCRIPT"]

DEFAULT_PORT = 8765
TEMPLATE = "serve.html.j2"

FIELDS = ("expr", "wrt", "claim", "claimkind", "shapes", "scalars", *ASSUMPTIONS, "layout", "detail", "action")
"""The query parameters of the page (and ``convention``, a checkbox)."""


@dataclass(frozen=True)
class Limits:
    """The largest input a request may carry; anything larger is refused with 413."""
    expression: int = 2_000        # characters of the expression and of the claim
    declarations: int = 2_000      # characters of the shapes field
    names: int = 500               # characters of a field of names (scalars, symmetric, …, wrt)
    declared: int = 50             # names declared in all the fields together
    dimension: int = 64            # the largest numeric dimension (the verification builds such arrays)
    parameters: int = 40           # query parameters in all
    query: int = 32_000            # bytes of the whole query, checked before it is read


@dataclass(frozen=True)
class Settings:
    """How the server runs: ``workers`` processes, each request under a work budget of
    ``seconds`` and ``nodes``; a worker still running after ``time_limit`` seconds (by
    default the budget's time and :data:`GRACE`) is killed and replaced.  A request waits at
    most ``wait`` seconds for a free worker; each worker may use ``memory`` bytes of address
    space.  The last ``remembered`` pages are kept, so that a shared link opened again (by a
    whole class) is not computed again."""
    workers: int = 2
    seconds: float = 10.0
    nodes: int = 1_000_000
    time_limit: float | None = None
    wait: float = 30.0
    memory: int | None = 2 << 30
    remembered: int = 128
    limits: Limits = field(default_factory=Limits)
    hosts: tuple | None = None
    """The names a request's Host header may carry (:data:`LOOPBACK` when serving on this
    machine only, so that a web page elsewhere cannot reach the server by DNS rebinding);
    None accepts any."""

    @property
    def hard_limit(self) -> float:
        return self.time_limit if self.time_limit is not None else self.seconds + GRACE


LOOPBACK = ("127.0.0.1", "localhost", "::1")
"""The addresses that are this machine only, and the names a request to them carries."""

GRACE = 5.0
"""Seconds a worker may run past its budget's time (the budget is checked between steps,
and one SymPy call may be long) before it is killed."""


class _Refused(MatcalcError):
    """A request refused before any work (413 or 422), with the message the page shows."""

    def __init__(self, status, message, field_name=None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field_name


# ================================================================ the query

def read_form(params) -> dict:
    """The form's fields from the query (the last value of each), as the page shows them
    again; a query with no parameters gets the first page's defaults (the convention on)."""
    if len(params) == 0:
        return {**{name: "" for name in FIELDS}, "convention": True, "layout": "numerator", "detail": "textbook",
                "claimkind": "gradient"}
    form = {name: params.get(name, "") for name in FIELDS}
    form["convention"] = params.get("convention", "") not in ("", "off", "0")
    return form


def question_of(form, params, settings) -> Question | None:
    """The :class:`Question` a form asks (None without a button), after the size checks;
    raises :class:`_Refused` (413, 422) or a :class:`ParseError` of the declarations."""
    limits = settings.limits
    if len(params.multi_items()) > limits.parameters:
        raise _Refused(413, f"the request has {len(params.multi_items())} parameters; at most {limits.parameters}")
    for name, limit in (("expr", limits.expression), ("claim", limits.expression), ("shapes", limits.declarations),
                        *((n, limits.names) for n in ("wrt", "scalars", *ASSUMPTIONS))):
        if len(form[name]) > limit:
            raise _Refused(413, f"the {_LABELS[name]} is {len(form[name]):,} characters long; at most {limit:,}", name)
    for name, choices in (("action", ("", *ACTIONS)), ("layout", ("", *LAYOUTS)), ("detail", ("", *DETAILS)),
                          ("claimkind", ("", *CLAIM_KINDS))):
        if form[name] not in choices:
            known = ", ".join(c for c in choices if c)
            raise _Refused(422, f"unknown {name} {form[name][:40]!r}; choose one of {known}")
    if not form["action"]:
        return None
    if not form["expr"].strip():
        raise _Refused(422, "write an expression first, for example x.T @ A @ x", "expr")
    shapes = _declared_shapes(form)
    assumptions = {flag: serve_work.read_names(form[flag]) for flag in ASSUMPTIONS}
    count = len(shapes) + sum(len(names) for names in assumptions.values())
    if count > limits.declared:
        raise _Refused(413, f"{count} names are declared; at most {limits.declared}", "shapes")
    for name, shape in shapes.items():
        for dimension in shape:
            if isinstance(dimension, int) and dimension > limits.dimension:
                raise _Refused(413, f"{name} has the dimension {str(dimension)[:20]}; numeric dimensions are at most "
                                    f"{limits.dimension} here (use a name such as n)", "shapes")
    return Question(expression=form["expr"], action=form["action"], wrt=serve_work.read_names(form["wrt"]),
                    claim=form["claim"], claim_kind=form["claimkind"] or "gradient",
                    layout=form["layout"] or "numerator", detail=form["detail"] or "textbook", shapes=shapes,
                    assumptions={k: v for k, v in assumptions.items() if v}, convention=form["convention"],
                    nodes=settings.nodes, seconds=settings.seconds)


def _declared_shapes(form) -> dict:
    """The shapes field and the scalars field together."""
    shapes = serve_work.read_declarations(form["shapes"])
    for name in serve_work.read_names(form["scalars"]):
        shapes.setdefault(name, ())
    return shapes


_LABELS = {"expr": "expression", "claim": "claim", "shapes": "shapes field", "wrt": "variables field",
           "scalars": "scalars field", "symmetric": "symmetric field", "spd": "spd field",
           "positive": "positive field", "onehot": "one-hot field", "binary": "binary field"}


# ================================================================ the page

COPY_SCRIPT = ("for(const b of document.querySelectorAll('button.copy'))b.onclick=()=>{"
               "const t=document.getElementById(b.dataset.copy);t.select();"
               "navigator.clipboard?navigator.clipboard.writeText(t.value):document.execCommand('copy');"
               "b.textContent='Copied';};")
"""The page's only script: the Copy buttons copy their text area."""

_SCRIPT_HASH = base64.b64encode(hashlib.sha256(COPY_SCRIPT.encode()).digest()).decode()
HEADERS = {
    "Content-Security-Policy": f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{_SCRIPT_HASH}'; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

EXAMPLES = (
    ("a quadratic form", {"expr": "x.T @ A @ x", "convention": "on", "action": "gradient"}),
    ("least squares", {"expr": "norm(X @ w - y)**2", "convention": "on", "action": "gradient", "wrt": "w"}),
    ("its Hessian", {"expr": "norm(X @ w - y)**2", "convention": "on", "action": "hessian", "wrt": "w"}),
    ("a Jacobian", {"expr": "tanh(W @ x)", "convention": "on", "action": "jacobian", "wrt": "x"}),
    ("log-determinant", {"expr": "logdet(X) - trace(S @ X)", "convention": "on", "action": "gradient", "wrt": "X",
                         "symmetric": "S"}),
    ("softmax regression", {"expr": "-sum(Y * log(softmax(X @ W))) / N", "shapes": "X: N×d; Y: N×K; W: d×K",
                            "onehot": "Y", "action": "gradient", "wrt": "W"}),
    ("check a claim", {"expr": "x.T @ A @ x", "convention": "on", "action": "verify", "claim": "2 * A @ x"}),
)


def _environment():
    """The project's template environment (sandboxed, ``<% %>`` delimiters), escaping HTML."""
    from ..output.render import environment
    return environment().overlay(autoescape=True)


def _displayable(text: str) -> str:
    """User text to show again: control characters (never part of the syntax) as �."""
    return "".join(c if c.isprintable() or c in "\t\n" else "\ufffd" for c in text)


def render_page(env, form, *, limits=Limits(), result=None, error=None, pdf_query=None) -> str:
    """The page: the form filled in as ``form``, and ``result`` (:func:`.serve_work.answer`)
    or an ``error`` (:func:`.serve_work.describe_error`)."""
    from .._version import __version__
    from .parse import FUNCTIONS
    from ..output.sandbox import render
    shown = {k: _displayable(v) if isinstance(v, str) else v for k, v in form.items()}
    if result is not None:
        result = {**result,
                  "answer": [{"lhs": Markup(r["lhs"]), "lines": [Markup(x) for x in r["lines"]]}
                             for r in result["answer"]],
                  "derivation": Markup(result["derivation"]),
                  "verification": Markup(result["verification"]) if result["verification"] else None,
                  "proposed": any(proposed for _, _, proposed in result["declarations"])}
        error = error or result["error"]
    if error is not None:
        error = {**error, "message": _displayable(error["message"]),
                 "line": _displayable(error["line"]) if error.get("line") is not None else None,
                 "field_label": _LABELS.get(error.get("field"), error.get("field"))}
    return render(env, TEMPLATE, form=shown, result=result, error=error, pdf_query=pdf_query,
                  query=urlencode(_query_items(form)), examples=[(label, urlencode(q)) for label, q in EXAMPLES],
                  functions=sorted(FUNCTIONS), limits=limits, copy_script=Markup(COPY_SCRIPT),
                  version=__version__)


def _query_items(form) -> list:
    """The non-empty fields of ``form`` as query items (the page's own link)."""
    items = [(name, form[name]) for name in FIELDS if form.get(name)]
    return items + ([("convention", "on")] if form.get("convention") else [])


# ================================================================ the application

def create_app(settings: Settings | None = None) -> Starlette:
    """The Starlette application; its workers start with it (the lifespan) and stop with it."""
    from contextlib import asynccontextmanager
    from ..output.render import pdflatex
    settings = settings or Settings()
    env = _environment()
    state = {}
    remembered = _Remembered(settings.remembered)

    @asynccontextmanager
    async def lifespan(app):
        state["pool"] = await run_in_threadpool(
            WorkerPool, settings.workers, preload=("matcalc", "matcalc.apps.serve_work"), memory=settings.memory)
        try:
            yield
        finally:
            state["pool"].close()

    def show(form, status=200, **content):
        """The page, as an HTML response with the security headers."""
        return HTMLResponse(render_page(env, form, limits=settings.limits, **content), status_code=status,
                            headers=HEADERS)

    async def compute(function, argument):
        """``function(argument)`` in a worker: (result, None), or (None, (status, error))."""
        try:
            return await run_in_threadpool(state["pool"].run, function, argument, timeout=settings.hard_limit,
                                           wait=settings.wait), None
        except WorkerTimeout:
            return None, (200, _error(f"The computation took longer than {settings.hard_limit:g} s and was stopped. "
                                      f"Simplify or split the expression, or run matcalc derive on your own machine."))
        except PoolBusy:
            return None, (503, _error("The server is busy with other requests; try again in a moment."))
        except WorkerCrashed:
            return None, (500, _error("The computation stopped unexpectedly (it may have run out of memory)."))
        except WorkerError as failure:
            return None, (500, _error(f"matcalc failed on this input (internal error {failure.kind}: "
                                      f"{failure.message[:300]}). Please report it."))

    def read(request):
        """(form, question or None, the page refusing the request or None)."""
        host = _host_name(request.headers.get("host", ""))
        if settings.hosts is not None and host not in settings.hosts:
            return {}, None, PlainTextResponse(
                f"matcalc serve answers requests addressed to {', '.join(settings.hosts)}, "
                f"not to {host[:100]!r}\n", status_code=400, headers=HEADERS)
        size = len(request.scope["query_string"])
        if size > settings.limits.query:
            return {}, None, show(read_form({}), 413, error=_error(
                f"the request is {size:,} bytes long; at most {settings.limits.query:,}"))
        form = read_form(request.query_params)
        try:
            return form, question_of(form, request.query_params, settings), None
        except _Refused as refused:
            shown = {k: v[:settings.limits.expression] if isinstance(v, str) else v for k, v in form.items()}
            return form, None, show(shown, refused.status, error=_error(refused.message, refused.field))
        except ParseError as error:
            return form, None, show(form, error=serve_work.describe_error(error, field_name="shapes"))

    async def page(request):
        form, question, refusal = read(request)
        if refusal is not None or question is None:
            return refusal or show(form)
        result = remembered.get(question)
        if result is None:
            result, failure = await compute(serve_work.answer, question)
            if failure is not None:
                status, error = failure
                return show(form, status, error=error)
            remembered.put(question, result)
        has_pdf = result["error"] is None and pdflatex() is not None
        return show(form, result=result, pdf_query=urlencode(_query_items(form)) if has_pdf else None)

    async def pdf(request):
        form, question, refusal = read(request)
        if refusal is not None or question is None:
            return refusal or show(form, 422, error=_error("press a button first"))
        if pdflatex() is None:
            return show(form, 404, error=_error("pdflatex is not installed on this machine, so no PDF can be made; "
                                                "copy the LaTeX instead"))
        directory = tempfile.mkdtemp(prefix="matcalc-serve-")
        try:
            made, failure = await compute(serve_work.pdf, (question, directory))
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        if failure is not None or made["error"] is not None:
            status, error = failure or (422, made["error"])
            return show(form, status, error=error)
        return Response(made["pdf"], media_type="application/pdf",
                        headers={**HEADERS, "Content-Disposition": 'attachment; filename="derivation.pdf"'})

    app = Starlette(routes=[Route("/", page), Route("/pdf", pdf)], lifespan=lifespan)
    app.state.remembered = remembered
    return app


def _host_name(header: str) -> str:
    """The host of a Host header without its port: ``[::1]:8765`` → ``::1``."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _error(message, field_name=None) -> dict:
    return {"message": message, "field": field_name, "line": None, "caret": None, "column": None, "budget": False}


class _Remembered:
    """The answers to the last ``size`` questions (none when size is 0); thread-safe."""

    def __init__(self, size):
        self.size = size
        self.answers = OrderedDict()
        self.lock = threading.Lock()

    def get(self, question):
        with self.lock:
            answer = self.answers.get(repr(question))
            if answer is not None:
                self.answers.move_to_end(repr(question))
            return answer

    def put(self, question, answer):
        """Remember ``answer`` unless it is a resource running out (the next try may fit)."""
        if self.size == 0 or (answer["error"] and answer["error"]["budget"]):
            return
        with self.lock:
            self.answers[repr(question)] = answer
            while len(self.answers) > self.size:
                self.answers.popitem(last=False)


# ================================================================ the command

def run(host="127.0.0.1", port=DEFAULT_PORT, settings=None, *, out=sys.stdout):
    """Serve until interrupted, printing the URL first (``port=0`` picks a free port)."""
    import uvicorn
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind((host, port))
    listening.listen(128)
    bound = listening.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    print(f"matcalc serve: http://{shown}:{bound}/  (Ctrl-C stops it)", file=out, flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"matcalc serve: note: {host} is reachable from other machines", file=out, flush=True)
    if host in LOOPBACK:
        settings = replace(settings or Settings(), hosts=LOOPBACK)
    config = uvicorn.Config(create_app(settings), log_level="warning", limit_concurrency=100,
                            timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[listening])

