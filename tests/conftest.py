import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Every test session gets its own result cache, so tests never read a user's cache."""
    d = tmp_path_factory.mktemp("charz-cache")
    old = os.environ.get("CHARZ_CACHE_DIR")
    os.environ["CHARZ_CACHE_DIR"] = str(d)
    yield d
    if old is None:
        os.environ.pop("CHARZ_CACHE_DIR", None)
    else:
        os.environ["CHARZ_CACHE_DIR"] = old
