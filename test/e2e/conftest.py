"""pytest configuration for sparsec end-to-end tests."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from sparsec_cli import missing_binary_message, sparsec_bin  # noqa: E402


@pytest.fixture(scope="session")
def sparsec() -> Path:
    """Path to the sparsec binary; fails (does not skip) when it is missing."""
    msg = missing_binary_message()
    if msg:
        pytest.fail(msg, pytrace=False)
    return sparsec_bin()
