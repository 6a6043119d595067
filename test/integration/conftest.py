import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cluster import Cluster  # noqa: E402


@pytest.fixture
def make_cluster(tmp_path, request):
    """Builds clusters; kills every node at the end, and shows their logs if the test failed."""
    made = []

    def make(**kw) -> Cluster:
        c = Cluster(tmp_path / f"cluster{len(made)}", **kw)
        made.append(c)
        return c

    yield make
    failed = getattr(request.node, "rep_call", None)
    for c in made:
        c.close()
        if failed is not None and failed.failed:
            print(c.logs())


@pytest.fixture(scope="session", autouse=True)
def need_dig():
    if shutil.which("dig") is None:
        pytest.fail("dig is not installed (apt-get install bind9-dnsutils)", pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
