from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.report.builders import seed_consio


@pytest.fixture
def consio_engine(engine: Engine) -> Engine:
    seed_consio(engine)
    return engine
