"""Fixtures for the multi-node integration tests (see cluster.py).

`make_cluster(ttl=..., timeout=...)` builds a Cluster under the test's
tmp_path; at the end of the test every node of it is killed, and if the test
failed the nodes' logs are attached to its report. A missing `dig` or
pweb-node binary is a failure, never a skip; so is a node process left
running at the end of the session.
"""
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import cluster as cluster_mod  # noqa: E402
from cluster import Cluster  # noqa: E402


@pytest.fixture
def make_cluster(tmp_path, request):
    made = []
    request.node.pweb_clusters = made

    def make(**kw) -> Cluster:
        c = Cluster(tmp_path / f"cluster{len(made)}", **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture(scope="session", autouse=True)
def prerequisites():
    if shutil.which("dig") is None:
        pytest.fail("dig is not installed (apt-get install bind9-dnsutils)", pytrace=False)
    try:
        cluster_mod.binary()
    except AssertionError as e:
        pytest.fail(str(e), pytrace=False)
    yield
    leaked = [p.pid for p in cluster_mod.STARTED if p.poll() is None]
    for p in cluster_mod.STARTED:
        if p.poll() is None:
            p.kill()
    assert not leaked, f"pweb-node processes still running after the tests: {leaked}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("setup", "call"):
        for i, c in enumerate(getattr(item, "pweb_clusters", [])):
            rep.sections.append((f"pweb-node logs, cluster {i} (network id {c.network_id})",
                                 c.logs()))
