"""Fixtures for the application layer's tests: the data layer's fresh database, photo store and
accounts (tests/db/conftest.py), and the page tests' environment (tests/dashboard/conftest.py),
which wires a database, data folder and weights folder through the settings' variables."""
from tests.dashboard.conftest import dash, env  # noqa: F401
from tests.db.conftest import (  # noqa: F401
    _fast_bcrypt,
    admin,
    clinician,
    db_url,
    engine,
    other_clinician,
    researcher,
    session,
    store,
)
