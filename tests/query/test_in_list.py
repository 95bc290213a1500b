"""``InList``: the same rows for any number of ids, padded placeholders or one array."""

from __future__ import annotations

import sqlalchemy as sa

from threadline.query.reading import Ids, InList, read
from threadline.store import schema as s
from threadline.store.sql import SqlStore

VERSIONS = InList(
    lambda ids: sa.select(s.versions.c.id, s.versions.c.version).where(
        ids.match(s.versions.c.id), s.versions.c.first_seen_us >= sa.bindparam("since")
    )
)


def test_any_count_of_ids_gives_the_rows_a_plain_query_gives(store: SqlStore) -> None:
    def plain(conn: sa.Connection) -> set[tuple[int, str]]:
        rows = conn.execute(sa.select(s.versions.c.id, s.versions.c.version))
        return {(int(i), str(v)) for i, v in rows}

    every = read(store, plain)
    real = sorted(i for i, _ in every)
    # Ids that exist, spread through 1,500 that do not: more than the largest bucket (512).
    wanted = [*range(10_000, 11_500), *real]

    def asked(ids: list[int]) -> set[tuple[int, str]]:
        rows = read(store, lambda conn: VERSIONS.fetch(conn, ids, {"since": 0}))
        return {(int(i), str(v)) for i, v in rows}

    assert asked(wanted) == every
    assert asked(real[:1]) == {next(r for r in every if r[0] == real[0])}
    assert asked([]) == set()
    assert asked([-5, 10**12]) == set()


def test_ids_match_renders_in_or_any() -> None:
    column = s.versions.c.id
    listed = Ids(params=[sa.bindparam("p0"), sa.bindparam("p1")]).match(column)
    assert "IN" in str(listed)
    array = Ids(array=sa.bindparam("ids")).match(column)
    assert "ANY" in str(array)
