"""Helpers shared by tests in more than one folder; nothing here is collected as a test.

- :mod:`tests.support.pg`: a fresh PostgreSQL database per test.
- :mod:`tests.support.events`: small OpenLineage-shaped event builders for store tests.
- :mod:`tests.support.graphs`: a hand-built lineage graph with known answers.
- :mod:`tests.support.capture_session`: an installed capture session over a real SQLite store.
- :mod:`tests.support.live`: the real server on a free port, and the spec examples it is fed.
- :mod:`tests.support.runner`: runs real scripts under ``threadline run`` in a scratch project.
- :mod:`tests.support.data`: where the copied spec documents and test vectors live.
- :mod:`tests.support.files`: files with known bytes and an old mtime, for fingerprint tests.
- :mod:`tests.support.fuzz`: hypothesis strategies for mutated OpenLineage events.
"""
