"""Fixtures shared across test files."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelenv import build_and_install


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the built wheel, the folder it is installed in), once a session."""
    return build_and_install(tmp_path_factory.mktemp("wheel"))
