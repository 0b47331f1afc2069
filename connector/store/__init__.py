"""The store: the tables (`models`), engines and migrations (`db`), and the writes every stage shares (`writes`).

Both SQLite and PostgreSQL; the Alembic migrations under `migrations/` build exactly the
tables `models` declares (a test compares them).
"""
