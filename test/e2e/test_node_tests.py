"""pytest wrapper around run_node_tests.py, for both data sets (Debian's libonnx-testdata,
opsets up to 17, and the installed onnx package's node tests, opsets up to its newest): the
tests in each set's expected-pass list must pass; its other candidates are run and only
reported."""
from __future__ import annotations

import pytest

import run_node_tests as nt

EXPECTED = {name: nt.read_expected(data.expected) for name, data in nt.DATA_SETS.items()}


def candidates(data_name: str):
    data = nt.DATA_SETS[data_name]
    return nt.discover(data.root(), max_opset=data.max_opset)


@pytest.fixture(scope="session")
def node_results(sparsec):
    """Runs every candidate node test of each data set once (2 workers): set -> name -> Result."""
    cache = {}

    def results_of(data_name: str):
        if data_name not in cache:
            results = nt.run_all(candidates(data_name), jobs=2, progress=False)
            cache[data_name] = {r.name: r for r in results}
        return cache[data_name]
    return results_of


@pytest.mark.parametrize("data_name", sorted(nt.DATA_SETS))
def test_node_test_sweep_report(node_results, data_name):
    """Always passes (if the binary exists); prints the non-expected failures."""
    results = node_results(data_name)
    expected = EXPECTED[data_name]
    others = [r for r in results.values()
              if r.name not in expected and r.status in ("FAIL", "ERROR")]
    print(f"\n[{data_name}] " + nt.summarize(list(results.values())))
    for r in others:
        print(f"  (not required) {r.status} {r.name}: {r.detail[:150]}")
    newly = sorted(r.name for r in results.values()
                   if r.status == "PASS" and r.name not in expected)
    if newly:
        print(f"  {len(newly)} passing tests not yet in "
              f"{nt.DATA_SETS[data_name].expected.name} "
              f"(run run_node_tests.py --data {data_name} --update-expected)")


@pytest.mark.parametrize("data_name", sorted(nt.DATA_SETS))
def test_expected_list_is_well_formed(data_name):
    """Every listed name is a candidate node test (no sparsec needed)."""
    names = {c.name for c in candidates(data_name)}
    expected = EXPECTED[data_name]
    unknown = [n for n in expected if n not in names]
    assert not unknown, f"not candidate node tests: {unknown}"
    assert len(expected) == len(set(expected)), "duplicate names"


PAIRS = [(data_name, name) for data_name in sorted(nt.DATA_SETS)
         for name in EXPECTED[data_name]]


@pytest.mark.parametrize("data_name,name", PAIRS or [("", "<none listed>")],
                         ids=[f"{d}:{n}" for d, n in PAIRS] or ["none"])
def test_expected_node_test_passes(data_name, name, node_results):
    if name == "<none listed>":
        pytest.skip("no expected-pass list names a test yet")
    r = node_results(data_name).get(name)
    assert r is not None, f"{name} was not run (not a candidate?)"
    assert r.status == "PASS", f"{name}: {r.status}: {r.detail}"
