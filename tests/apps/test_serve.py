"""``matcalc serve`` (matcalc.apps.serve): the derivation page, driven three ways.

* In process, through Starlette's TestClient: every button, the convention switch, every
  error path (parse and shape errors at their column, a budget overrun, a time-out,
  oversized and hostile input), the PDF, the state in the URL.
* Live: the real command (``python -m matcalc serve --port 0``) in a subprocess, loaded in
  a real headless chromium (tests/browser.py) that types ``x.T @ A @ x``, presses Gradient
  and finds the rendered (A + Aᵀ)x; and under load, 200 requests from 20 clients, a tenth
  of them hostile.

The expected answers are written by hand from the mathematics (∇ₓ xᵀAx = (A + Aᵀ)x, the
Jacobian of Ax is A, the Hessian of xᵀAx is A + Aᵀ, ∇_X tr(AX) = Aᵀ), and the NumPy code
the page offers is run against NumPy computations of the same formulas.
"""
import base64
import hashlib
import html
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="matcalc serve needs starlette (pip install -e .[dev])")
pytest.importorskip("uvicorn", reason="matcalc serve needs uvicorn (pip install -e .[dev])")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx (pip install -e .[dev])")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")   # Starlette ≥ 1.10 prefers httpx2; httpx still works
    from starlette.testclient import TestClient

from browser import BOX

import matcalc
from matcalc.apps.serve import COPY_SCRIPT, EXAMPLES, LOOPBACK, Settings, _host_name, create_app
from matcalc.output.render import pdflatex

QUADRATIC = {"expr": "x.T @ A @ x", "convention": "on"}
NESTED_SOFTMAX = "sum(" + "softmax(" * 40 + "x" + ")" * 40 + ")"
"""Its Hessian takes far longer than a few seconds (and runs out of any small budget)."""


@pytest.fixture(scope="module")
def client():
    """The application in process; it remembers no page, so that every request is computed."""
    with TestClient(create_app(Settings(workers=2, remembered=0))) as test_client:
        yield test_client


def get(client, path="/", **params):
    return client.get(path + ("?" + urllib.parse.urlencode(params) if params else ""))


# ---------------------------------------------------------------- reading the page

def section(page, name):
    """The inside of ``<section … id="name">``, or None."""
    match = re.search(rf'<section[^>]*\bid="{name}"[^>]*>(.*?)</section>', page, re.S)
    return match and match.group(1)


def tokens(fragment):
    """The texts of the MathML tokens (mi, mo, mn) of a fragment, in order."""
    return [html.unescape(t) for t in re.findall(r"<m[ion]\b[^>]*>([^<]*)</m[ion]>", fragment)]


def answers(page):
    """Each row of the answer box as (lhs tokens, rhs tokens)."""
    rows = re.findall(r'<td class="lhs">(.*?)</td><td class="rhs">(.*?)</td>', section(page, "answer"), re.S)
    return [(tokens(lhs), tokens(rhs)) for lhs, rhs in rows]


def text_area(page, name):
    return html.unescape(re.search(rf'<textarea id="{name}"[^>]*>(.*?)</textarea>', page, re.S).group(1))


def error_text(page):
    """The error box as plain text, or None."""
    box = section(page, "error")
    return box and html.unescape(re.sub(r"<[^>]+>", "", box)).strip()


def run_module(source):
    """The namespace of generated NumPy code (matcalc's own output, not user text)."""
    namespace = {}
    exec(compile(source, "<served>", "exec"), namespace)   # noqa: S102 - matcalc's generated module
    return namespace


@pytest.fixture
def arrays():
    rng = np.random.default_rng(7)
    return {"A": rng.standard_normal((4, 4)), "x": rng.standard_normal((4, 1))}


# ---------------------------------------------------------------- the first page

def test_the_first_page_is_the_form_with_the_convention_on(client):
    response = get(client)
    assert response.status_code == 200
    page = response.text
    assert '<form method="get" action="/"' in page
    assert re.search(r'name="convention" value="on" checked', page)
    for button in ("gradient", "jacobian", "hessian", "verify"):
        assert f'name="action" value="{button}"' in page
    assert section(page, "answer") is None and section(page, "error") is None


def test_the_page_fetches_nothing_and_its_one_script_is_allowed_by_its_hash(client):
    response = get(client, **QUADRATIC, action="gradient")
    page = response.text
    for fetching in ("src=", "<link", "@import", "url(", "https://"):
        assert fetching not in page, fetching
    assert [m for m in re.findall(r"http://[^\"' ]+", page) if not m.startswith("http://www.w3.org/")] == []
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert scripts == [COPY_SCRIPT]
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    policy = response.headers["content-security-policy"]
    assert f"script-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"


# ---------------------------------------------------------------- the buttons

def test_the_gradient_of_a_quadratic_form_by_the_convention(client, arrays):
    page = get(client, **QUADRATIC, action="gradient").text
    assert error_text(page) is None
    # ∂(xᵀAx)/∂x = (A + Aᵀ)x, an n×1 column like x
    assert answers(page) == [(["∂", "L", "∂", "x"],
                              ["=", "(", "A", "+", "A", "⊤", ")", "x", "∈", "ℝ", "n", "×", "1"])]
    assert "<code>x: n×1</code>*" in page and "<code>A: n×n</code>*" in page   # proposed by the convention
    assert r"(A + A^{\top}) x" in text_area(page, "latex-text")
    assert text_area(page, "latex-text").startswith(r"\begin{align*}")
    assert "$$" in text_area(page, "markdown-text")
    assert "product rule" in section(page, "derivation")   # the steps, with their rules
    module = run_module(text_area(page, "python-text"))
    A, x = arrays["A"], arrays["x"]
    loss, (gradient,) = module["loss_and_gradients"](A=A, x=x)
    assert np.isclose(loss, (x.T @ A @ x).item())
    np.testing.assert_allclose(gradient, (A + A.T) @ x, rtol=1e-12)


@pytest.mark.parametrize("layout, expected, transpose", [
    ("numerator", ["=", "A", "∈", "ℝ", "n", "×", "m"], False),           # ∂(Ax)/∂x = A
    ("denominator", ["=", "A", "⊤", "∈", "ℝ", "m", "×", "n"], True),     # its transpose
])
def test_the_jacobian_in_both_layouts(client, layout, expected, transpose):
    page = get(client, expr="A @ x", convention="on", action="jacobian", layout=layout).text
    assert answers(page) == [(["∂", "y", "∂", "x"], expected)]
    A = np.random.default_rng(1).standard_normal((3, 5))
    (jacobian,) = run_module(text_area(page, "python-text"))["compiled"](A=A)
    np.testing.assert_array_equal(jacobian, A.T if transpose else A)


def test_the_hessian(client, arrays):
    page = get(client, **QUADRATIC, action="hessian").text
    # ∇²ₓ xᵀAx = A + Aᵀ
    assert answers(page) == [(["∇", "x", "2", "L"], ["=", "A", "+", "A", "⊤", "∈", "ℝ", "n", "×", "n"])]
    (hessian,) = run_module(text_area(page, "python-text"))["compiled"](A=arrays["A"])
    np.testing.assert_allclose(hessian, arrays["A"] + arrays["A"].T)


def test_a_matrix_variable_named_in_the_field(client):
    page = get(client, expr="trace(A @ X)", convention="on", action="gradient", wrt="X").text
    # ∂ tr(AX)/∂X = Aᵀ, shaped like X (m×n with A n×m)
    assert answers(page) == [(["∂", "L", "∂", "X"], ["=", "A", "⊤", "∈", "ℝ", "m", "×", "n"])]
    assert "matcalc chose" not in page


def test_verify_a_right_claim(client):
    page = get(client, **QUADRATIC, action="verify", claim="(A + A.T) @ x").text
    assert "✓ the claimed gradient holds" in page
    assert 'class="verdict ok"' in page
    assert answers(page)[0][1][:8] == ["=", "(", "A", "+", "A", "⊤", ")", "x"]   # matcalc's own result


def test_verify_a_wrong_claim_says_how_it_is_wrong(client):
    page = get(client, **QUADRATIC, action="verify", claim="2 * A @ x").text
    assert "✗ the claimed gradient holds only for symmetric A" in page
    assert "counterexample" in page and 'class="verdict wrong"' in page
    # … and with A declared symmetric the same claim holds
    page = get(client, **QUADRATIC, action="verify", claim="2 * A @ x", symmetric="A").text
    assert "✓ the claimed gradient holds" in page


def test_verify_needs_a_claim(client):
    page = get(client, **QUADRATIC, action="verify").text
    assert "In the claim: write the claimed derivative" in error_text(page)


def test_the_detail_switch_shows_every_step(client):
    example = dict(EXAMPLES)["softmax regression"]
    textbook = get(client, **example, detail="textbook").text
    full = get(client, **example, detail="full").text
    assert answers(textbook) == answers(full)
    assert section(full, "derivation").count("<tr>") > section(textbook, "derivation").count("<tr>")


# ---------------------------------------------------------------- declarations and the convention

def test_without_the_convention_names_must_be_declared(client):
    page = get(client, expr="x.T @ A @ x", action="gradient").text
    assert "unknown name 'x'; no names are declared" in error_text(page)
    page = get(client, expr="x.T @ A @ x", action="gradient", shapes="x: n×1; A: n×n").text
    assert answers(page)[0][1][:8] == ["=", "(", "A", "+", "A", "⊤", ")", "x"]
    assert "<code>x: n×1</code>," in page and "by the matrixcalculus.org convention" not in page


def test_a_declaration_overrides_the_convention(client):
    page = get(client, **QUADRATIC, action="gradient", shapes="x: d×1").text
    assert "<code>x: d×1</code>," in page and "<code>A: d×d</code>*" in page
    assert answers(page)[0][1][-3:] == ["d", "×", "1"]


def test_scalars_and_assumptions_are_declared_beside(client):
    page = get(client, expr="lam * norm(x)**2 + x.T @ S @ x", convention="on", scalars="lam", spd="S",
               action="gradient", wrt="x").text
    assert error_text(page) is None
    # ∇(λ‖x‖² + xᵀSx) = 2(λx + Sx) for a symmetric S (Sᵀ = S: no transpose left)
    assert answers(page)[0][1] == ["=", "2", "(", "λ", "x", "+", "S", "x", ")", "∈", "ℝ", "n", "×", "1"]
    assert "<code>lam: scalar</code>," in page and "<code>S: n×n</code>*" in page   # S square: it is spd


# ---------------------------------------------------------------- errors at their column

def test_a_parse_error_is_shown_at_its_column(client):
    page = get(client, expr="x.T @ A @ $ x", convention="on", action="gradient").text
    # '$' is the 11th character
    assert "In the expression: unexpected character '$' (column 11)" in error_text(page)
    assert "<pre>x.T @ A @ $ x\n<span class=\"caret\">          ^</span></pre>" in page
    assert 'id="expr" name="expr" value="x.T @ A @ $ x"' in page   # the text is kept, to correct it


def test_a_shape_error_is_shown_at_its_operator(client):
    page = get(client, expr="x.T @ A @ x", shapes="x: n×1; A: m×n", action="gradient").text
    # xᵀ is 1×n and A is m×n: the first '@' (column 5) cannot multiply them
    message = error_text(page)
    assert "cannot multiply" in message and "(column 5)" in message
    assert '<span class="caret">    ^</span>' in page


def test_a_mistake_in_the_claim_is_shown_in_the_claim(client):
    page = get(client, **QUADRATIC, action="verify", claim="2 * * A @ x").text
    message = error_text(page)
    assert message.startswith("In the claim:") and "(column 5)" in message


def test_a_mistake_in_the_shapes_field_is_shown_there(client):
    page = get(client, expr="x.T @ A @ x", shapes="x: n×1; A n", action="gradient").text
    assert "In the shapes field: expected NAME: ROWS×COLS" in error_text(page)
    assert '<span class="caret">        ^^^</span>' in page


def test_a_variable_that_is_not_there(client):
    page = get(client, **QUADRATIC, action="gradient", wrt="z").text
    assert "In the variables field: z is not a symbol" in error_text(page)


# ---------------------------------------------------------------- limits

def test_a_budget_overrun_is_a_clear_message_and_is_not_remembered():
    with TestClient(create_app(Settings(workers=1, seconds=0.5, remembered=2))) as small:
        start = time.monotonic()
        response = get(small, expr=NESTED_SOFTMAX, convention="on", action="hessian")
        assert time.monotonic() - start < 5
        assert response.status_code == 200
        assert "more work than the server allows for one page: the work budget ran out" in error_text(response.text)
        remembered = small.app.state.remembered.answers
        assert len(remembered) == 0   # another time, on a less busy machine, it might fit
        first = get(small, **QUADRATIC, action="gradient").text
        get(small, expr="x.T @ $", convention="on", action="gradient")   # a mistake is remembered too
        assert len(remembered) == 2
        assert get(small, **QUADRATIC, action="gradient").text == first
        get(small, expr="A @ x", convention="on", action="jacobian")      # the oldest is forgotten
        assert len(remembered) == 2 and not any("$" in key for key in remembered)


def test_a_time_out_stops_the_worker_and_the_next_page_works():
    """The worker is killed when its wall-clock limit passes, whatever it is doing."""
    with TestClient(create_app(Settings(workers=1, seconds=60, time_limit=1))) as strict:
        start = time.monotonic()
        response = get(strict, expr=NESTED_SOFTMAX, convention="on", action="hessian")
        assert time.monotonic() - start < 5
        assert response.status_code == 200
        assert "The computation took longer than 1 s and was stopped" in error_text(response.text)
        after = get(strict, **QUADRATIC, action="gradient", wrt="x")
        assert after.status_code == 200 and answers(after.text)[0][1][1:4] == ["(", "A", "+"]


def test_a_request_for_another_host_name_is_refused_on_the_loopback_server():
    """Serving on 127.0.0.1, a page elsewhere could rebind its own name to this machine
    (DNS rebinding) and read the answers: requests must be addressed to this machine."""
    assert [_host_name(h) for h in ("localhost:8765", "[::1]:8765", "127.0.0.1", "::1", "evil.example:80")] == \
        ["localhost", "::1", "127.0.0.1", "::1", "evil.example"]
    with TestClient(create_app(Settings(workers=1, hosts=LOOPBACK))) as local:
        params = query(**QUADRATIC, action="gradient", wrt="x")
        for path in ("/", "/pdf"):
            refused = local.get(f"{path}?{params}", headers={"host": "evil.example:8765"})
            assert refused.status_code == 400
            assert refused.text == ("matcalc serve answers requests addressed to 127.0.0.1, localhost, ::1, "
                                    "not to 'evil.example'\n")
        for host in ("localhost:8765", "127.0.0.1:8765", "[::1]:8765"):
            page = local.get(f"/?{params}", headers={"host": host})
            assert page.status_code == 200 and answers(page.text)[0][1][1:4] == ["(", "A", "+"]


@pytest.mark.parametrize("params, message", [
    ({"expr": "x + " * 500 + "x"}, "the expression is 2,001 characters long; at most 2,000"),
    ({"expr": "x", "claim": "x" * 2001}, "the claim is 2,001 characters long"),
    ({"expr": "x", "shapes": "; ".join(f"x{i}: n×1" for i in range(51))}, "51 names are declared; at most 50"),
    ({"expr": "x", "shapes": "x: 65×1"}, "x has the dimension 65; numeric dimensions are at most 64"),
    ({"expr": "x", "shapes": "x: 99999999999999999999999999×1"}, "numeric dimensions are at most 64"),
    ({"expr": "x", "symmetric": "A" * 501}, "the symmetric field is 501 characters long"),
    ({"expr": "x", **{f"p{i}": "" for i in range(40)}}, "the request has 42 parameters; at most 40"),
    ({"expr": "x" * 33_000}, "the request is 33,"),
])
def test_oversized_input_is_refused_before_any_work(client, params, message):
    response = get(client, **{**params, "action": "gradient"})
    assert response.status_code == 413
    assert message in error_text(response.text)
    assert len(response.text) < 40_000   # the refused text is not sent back whole


@pytest.mark.parametrize("params, message", [
    ({"action": "integrate"}, "unknown action 'integrate'"),
    ({"action": "jacobian", "layout": "sideways"}, "unknown layout 'sideways'"),
    ({"action": "gradient", "detail": "some"}, "unknown detail 'some'"),
    ({"action": "gradient", "expr": "  "}, "write an expression first"),
])
def test_values_no_form_sends_are_refused(client, params, message):
    response = get(client, **{"expr": "x", **params})
    assert response.status_code == 422 and message in error_text(response.text)


@pytest.mark.parametrize("field", ["expr", "claim", "shapes", "wrt", "onehot"])
def test_hostile_text_is_shown_escaped(client, field):
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    page = get(client, **{**QUADRATIC, "action": "verify", "claim": "2 * A @ x", field: hostile}).text
    assert page.count("<script") == 1   # the Copy script, and nothing else
    assert "<img" not in page and "onerror=alert" not in page.replace("onerror=alert(2)&gt;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert error_text(page) is not None   # it is not an expression either


def test_control_characters_and_binary_junk_are_errors(client):
    junk = random.Random(5).randbytes(300)
    response = client.get("/?action=gradient&convention=on&expr=" + urllib.parse.quote_from_bytes(junk))
    assert response.status_code == 200 and "unexpected character" in error_text(response.text)
    assert "\x00" not in response.text


# ---------------------------------------------------------------- the URL and the PDF

def test_the_state_is_in_the_url(client):
    first = get(client, **QUADRATIC, action="hessian", detail="full").text
    link = html.unescape(re.search(r'<a href="([^"]+)">Link to this page</a>', first).group(1))
    assert link.startswith("/?") and "expr=x.T+%40+A+%40+x" in link and "action=hessian" in link
    again = client.get(link).text
    assert section(again, "answer") == section(first, "answer")
    assert section(again, "derivation") == section(first, "derivation")
    assert '<option value="full" selected>' in again


def test_every_example_on_the_first_page_works(client):
    first = get(client).text
    links = [html.unescape(href) for href in re.findall(r'<a href="(/\?[^"]+)">', first)]
    assert len(links) == len(EXAMPLES)
    for link in links:
        page = client.get(link).text
        assert error_text(page) is None, (link, error_text(page))
        assert answers(page)


@pytest.mark.pdf
@pytest.mark.skipif(pdflatex() is None, reason="pdflatex is not installed")
def test_the_pdf_download(client):
    before = {p.name for p in Path(tempfile.gettempdir()).glob("matcalc-*")}
    page = get(client, **QUADRATIC, action="gradient").text
    link = html.unescape(re.search(r'<a href="(/pdf\?[^"]+)" download>', page).group(1))
    response = client.get(link)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'attachment; filename="derivation.pdf"'
    assert response.content.startswith(b"%PDF-") and len(response.content) > 5_000
    assert {p.name for p in Path(tempfile.gettempdir()).glob("matcalc-*")} == before   # nothing left behind


def test_a_pdf_of_a_mistake_is_the_page_with_the_error(client):
    response = get(client, "/pdf", expr="x.T @ @ x", convention="on", action="gradient")
    if pdflatex() is None:
        assert response.status_code == 404 and "pdflatex is not installed" in error_text(response.text)
    else:
        assert response.status_code == 422 and "(column 7)" in error_text(response.text)


# ---------------------------------------------------------------- live: the real command

@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """``python -m matcalc serve --port 0`` in an empty directory, with its own TMPDIR; yields
    (URL, directory, tmpdir).  At the end it is stopped with Ctrl-C (SIGINT), and neither
    directory may hold anything."""
    directory, tmpdir = tmp_path_factory.mktemp("serve-cwd"), tmp_path_factory.mktemp("serve-tmp")
    process = subprocess.Popen([sys.executable, "-m", "matcalc", "serve", "--port", "0", "--budget", "2"],
                               cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=command_environment(TMPDIR=str(tmpdir)))
    lines = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(60)
    if not (lines and lines[0].startswith("matcalc serve: http://127.0.0.1:")):
        process.kill()
        pytest.fail(f"matcalc serve did not start: {lines} {process.communicate()[1][-2000:]}")
    url = re.search(r"http://\S+/", lines[0]).group(0)
    fetch(url, timeout=60)   # up, with its workers
    yield url, directory, tmpdir
    process.send_signal(signal.SIGINT)
    try:
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, process.stderr.read()
    assert list(directory.iterdir()) == [] and list(tmpdir.iterdir()) == []


def command_environment(**more):
    """The environment of a ``python -m matcalc`` that imports this matcalc, from any directory."""
    package_root = str(Path(matcalc.__file__).resolve().parents[1])
    path = os.pathsep.join([package_root, *filter(None, [os.environ.get("PYTHONPATH")])])
    return {**os.environ, "PYTHONPATH": path, "PYTHONIOENCODING": "utf-8", **more}


def fetch(url, timeout=60, binary=False):
    """(status, body) of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, body if binary else body.decode("utf-8")


def test_the_browser_shows_the_gradient_of_x_a_x(live, browser, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait
    url = live[0]
    browser.get(url)
    browser.find_element("id", "expr").send_keys("x.T @ A @ x")
    assert browser.find_element("name", "convention").is_selected()   # on by default
    browser.find_element("css selector", 'button[value="gradient"]').click()
    WebDriverWait(browser, 60).until(lambda b: b.find_elements("id", "answer") or b.find_elements("id", "error"))
    assert not browser.find_elements("id", "error")
    assert "expr=x.T+%40+A+%40+x" in browser.current_url and "action=gradient" in browser.current_url

    result = browser.find_element("css selector", "#answer td.rhs math")
    assert [t.text for t in result.find_elements("css selector", "mi, mo, mn")][:8] == \
        ["=", "(", "A", "+", "A", "⊤", ")", "x"]
    left, top, width, height = browser.execute_script(BOX, result)
    assert width > 50 and height > 10
    # MathML layout is on: ∂L is drawn above ∂x, not beside it
    numerator, denominator = browser.execute_script(
        "return arguments[0].children", browser.find_element("css selector", "#answer td.lhs mfrac"))
    assert browser.execute_script(BOX, denominator)[1] >= sum(browser.execute_script(BOX, numerator)[1::2]) - 1

    browser.find_element("css selector", 'label[for="tab-python"]').click()   # the CSS tabs switch
    assert browser.find_element("id", "python-text").is_displayed()
    assert not browser.find_element("id", "latex-text").is_displayed()
    browser.find_element("css selector", 'label[for="tab-latex"]').click()

    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1100, min(height + 40, 2000))
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot = tmp_path / "serve.png"
    assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 20_000
    print(f"screenshot of the page: {screenshot}")
    if os.environ.get("MATCALC_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(screenshot, Path(__file__).resolve().parents[2] / "docs" / "serve.png")


def query(**params):
    return urllib.parse.urlencode(params)


def well_formed(v, M):
    """Five questions about a vector named v and a matrix named M (the convention's kinds),
    each with the right-hand side of its answer, written by hand."""
    quadratic = {"expr": f"{v}.T @ {M} @ {v}", "convention": "on"}
    gradient = ["=", "(", M, "+", M, "⊤", ")", v, "∈", "ℝ", "n", "×", "1"]   # ∇ vᵀMv = (M + Mᵀ)v
    return [
        (query(**quadratic, action="gradient"), gradient),
        (query(expr=f"{M} @ {v}", convention="on", action="jacobian"),
         ["=", M, "∈", "ℝ", "n", "×", "m"]),                                 # ∂(Mv)/∂v = M
        (query(**quadratic, action="hessian"),
         ["=", M, "+", M, "⊤", "∈", "ℝ", "n", "×", "n"]),                    # ∇² vᵀMv = M + Mᵀ
        (query(expr=f"trace({M} @ W)", convention="on", action="gradient", wrt="W"),
         ["=", M, "⊤", "∈", "ℝ", "m", "×", "n"]),                            # ∇_W tr(MW) = Mᵀ
        (query(**quadratic, action="verify", claim=f"({M} + {M}.T) @ {v}"), gradient),
    ]


WELL_FORMED = [case for v, M in zip("xyzuvw", "ABCDFG") for case in well_formed(v, M)]
"""30 different questions: a page shared by a class is asked for again and again, so the
server may remember some answers, but not all."""

# Each hostile request: its query, the status and what the page must say.
HOSTILE = [
    (query(expr="x + " * 1500 + "x", convention="on", action="gradient"), 413, "at most 2,000"),
    (query(expr="(" * 80 + "x" + ")" * 80, convention="on", action="gradient"), 200, "nested too deeply"),
    (query(expr=NESTED_SOFTMAX, convention="on", action="hessian"), 200, "the work budget ran out"),
    ("action=gradient&convention=on&expr=" + urllib.parse.quote_from_bytes(random.Random(3).randbytes(400)), 200,
     "unexpected character"),
]


def test_under_load_every_good_request_is_answered_and_every_hostile_one_refused(live):
    url = live[0]
    requests = [("good", WELL_FORMED[i % len(WELL_FORMED)]) for i in range(180)]   # 6 of each
    requests += [("hostile", HOSTILE[i % len(HOSTILE)]) for i in range(20)]
    random.Random(0).shuffle(requests)

    def send(request):
        kind, case = request
        start = time.perf_counter()
        status, page = fetch(url + "?" + case[0])
        return kind, case, status, page, time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(20) as clients:
        results = list(clients.map(send, requests))
    elapsed = time.perf_counter() - start

    for kind, case, status, page, _ in results:
        if kind == "good":
            assert status == 200 and error_text(page) is None, (case[0], error_text(page))
            assert answers(page)[0][1] == case[1], case[0]
        else:
            sent, expected_status, message = case
            assert status == expected_status and message in error_text(page), (sent[:60], status)
    for kind in ("good", "hostile"):
        latencies = sorted(r[4] for r in results if r[0] == kind)
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        print(f"{kind}: {len(latencies)} requests, median {statistics.median(latencies) * 1e3:.0f} ms, "
              f"p95 {p95 * 1e3:.0f} ms")
    print(f"200 requests from 20 clients in {elapsed:.1f} s")
    status, page = fetch(url)   # still up
    assert status == 200 and '<form method="get"' in page


def test_a_live_pdf_leaves_nothing_behind(live):
    if pdflatex() is None:
        pytest.skip("pdflatex is not installed")
    status, body = fetch(live[0] + "pdf?" + urllib.parse.urlencode({**QUADRATIC, "action": "gradient"}), binary=True)
    assert status == 200 and body.startswith(b"%PDF-")
    assert list(live[2].iterdir()) == [] or all(p.name.startswith("pymp-") for p in live[2].iterdir())


def test_a_port_in_use_is_a_one_line_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "matcalc", "serve", "--port", str(port)], capture_output=True,
                              text=True, timeout=120, env=command_environment())
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == f"matcalc serve: error: cannot listen on 127.0.0.1:{port}: Address already in use"
