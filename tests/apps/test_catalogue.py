"""The catalogue: every entry gets its expected verdict (CI fails on any regression).

The catalogue is run once per test session; each entry is its own test so a regression
names the identity.  Entries that fail because of a known matcalc bug are xfail(strict=True):
when the bug is fixed the test fails until the mark is removed.
"""
import io
import re
from pathlib import Path

import pytest

import matcalc as mc
from matcalc.apps.catalogue import entries, main, markdown_report

ENTRIES = entries()
DOCS = Path(__file__).resolve().parents[2] / "docs" / "catalogue.md"


@pytest.fixture(scope="module")
def results():
    out = io.StringIO()
    checked = mc.verify_catalogue(file=out)
    return {r.entry.id: r for r in checked}, out.getvalue()


def _param(entry):
    marks = [pytest.mark.xfail(strict=True, reason=entry.known_issue)] if entry.known_issue else []
    return pytest.param(entry, id=entry.id, marks=marks)


@pytest.mark.parametrize("entry", [_param(e) for e in ENTRIES])
def test_entry_gets_its_expected_verdict(entry, results):
    result = results[0][entry.id]
    assert result.diagnosis == entry.expect, result.explain()
    assert result.ok == (entry.expect == "holds")
    if entry.expect == "holds":
        assert result.max_rel_error <= 1e-6
    if result.derived is not None and result.diagnosis != "error":
        assert result.derivation_agrees, f"matcalc's own derivative disagrees with differences:\n{result.explain()}"


def test_catalogue_size_and_sources():
    assert len(ENTRIES) >= 80
    ids = [e.id for e in ENTRIES]
    assert len(ids) == len(set(ids))
    assert all(e.source and e.title for e in ENTRIES)
    cookbook = {int(m) for e in ENTRIES for m in re.findall(r"Cookbook eq\. \((\d+)\)", e.source)}
    assert len(cookbook) >= 50
    for seed in ("seed 000", "seed 001", "seed 002"):
        assert sum(seed in e.source for e in ENTRIES) >= 5, seed
    for kind in ("gradient", "jacobian", "hessian", "stationary"):
        assert any(e.kind == kind for e in ENTRIES), kind


def test_every_finding_is_explained():
    for entry in ENTRIES:
        if entry.expect != "holds":
            assert entry.finding, f"{entry.id}: a finding needs its explanation"


def test_documented_seed_findings(results):
    """The findings the issue asks about, with their counterexamples."""
    by_id = results[0]
    bce = by_id["seed002-bce-dW3"]
    assert bce.diagnosis == "off by a factor of -1" and bce.counterexample is not None
    assert by_id["seed002-bce-dW3-corrected"].ok
    assert by_id["seed001-delta-out"].factor == -1
    assert by_id["seed001-delta1"].diagnosis == "wrong shape"
    assert "v_in0" in by_id["seed001-delta0"].detail
    assert by_id["seed000-dL-dW1"].expected is None and by_id["seed000-dL-dW1-corrected"].ok
    assert by_id["seed002-training-loss"].factor == -1


def test_table_lists_every_identity(results):
    by_id, table = results
    for entry in ENTRIES:
        assert entry.id in table
    summary = table.strip().splitlines()[-1]
    assert f"{len(ENTRIES)} identities" in summary and " 0 regressions" in summary


def test_markdown_report(results):
    text = markdown_report(list(results[0].values()))
    assert text.startswith("# The matcalc catalogue")
    for entry in ENTRIES:
        assert f"### {entry.id}" in text
    assert "## Findings" in text and "$" in text


def test_generated_docs_are_present_and_complete():
    text = DOCS.read_text(encoding="utf-8")
    for entry in ENTRIES:
        assert f"### {entry.id}" in text, f"docs/catalogue.md is stale: run python -m matcalc.catalogue --markdown {DOCS}"


def test_command_line_selection(capsys, tmp_path):
    target = tmp_path / "c.md"
    assert main(["--only", "cookbook-81", "misquote-81", "--explain", "--markdown", str(target)]) == 0
    out = capsys.readouterr().out
    assert "cookbook-81" in out and "holds only for symmetric B" in out and "counterexample" in out
    assert "### misquote-81" in target.read_text(encoding="utf-8")
