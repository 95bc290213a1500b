"""pandas reads, writes, SQL and lineage through frame operations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from tests.support.capture_session import Captured

from threadline.capture.hooks._patch import suspended
from threadline.capture.hooks.pandas import tables_in_sql


def test_lineage_follows_frames_not_everything_read(captured: Captured) -> None:
    with suspended():  # input files made elsewhere
        pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]}).to_csv("a.csv", index=False)
        pd.DataFrame({"c": [7, 8]}).to_csv("b.csv", index=False)
    a = pd.read_csv("a.csv")
    b = pd.read_csv("b.csv")
    a[a["a"] > 1].assign(d=lambda f: f["a"] * 2).to_parquet("a_out.parquet")
    pd.concat([a[["a"]], b.rename(columns={"c": "a"})]).to_csv("both.csv", index=False)
    captured.capture.finish()
    assert captured.upstream("dataset:a_out.parquet") == {"dataset:a.csv"}
    assert captured.upstream("dataset:both.csv") == {"dataset:a.csv", "dataset:b.csv"}


def test_an_unknown_frame_falls_back_to_files_whose_values_left_the_frames(
    captured: Captured,
) -> None:
    with suspended():
        pd.DataFrame({"a": [1, 2]}).to_csv("a.csv", index=False)
        pd.DataFrame({"b": [3]}).to_csv("b.csv", index=False)
    values = [v * 10 for v in pd.read_csv("a.csv")["a"]]  # out of the frames: not followed
    print(len(pd.read_csv("b.csv")))  # never left them: it cannot be in what follows
    pd.DataFrame({"x": values}).to_csv("made_up.csv")
    assert captured.upstream("dataset:made_up.csv") == {"dataset:a.csv"}


def test_read_sql_names_the_tables_the_query_reads(captured: Captured, tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "shop.db")
    con.executescript(
        "create table orders(id int, customer int); create table customers(id int, email text);"
        "insert into orders values (1, 1); insert into customers values (1, 'a@b');"
    )
    frame = pd.read_sql(
        "select o.id, c.email from orders o join customers c on c.id = o.customer", con
    )
    frame.to_csv("joined.csv", index=False)
    con.close()
    assert captured.upstream("dataset:joined.csv") == {"dataset:orders", "dataset:customers"}


@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        ("SELECT * FROM sales.orders", ["sales.orders"]),
        ('select a from "My Table" t left join b on 1=1', ["My Table", "b"]),
        (
            "with recent as (select * from events) select * from recent join users u on 1",
            ["events", "users"],
        ),
        ("select 'from nowhere' as x from real_table -- from comment", ["real_table"]),
        ("select * from (select * from inner_t) sub", ["inner_t"]),
    ],
)
def test_tables_in_sql(sql: str, tables: list[str]) -> None:
    assert tables_in_sql(sql) == tables


def test_chunked_reads_carry_lineage(captured: Captured) -> None:
    with suspended():
        pd.DataFrame({"a": range(10)}).to_csv("big.csv", index=False)
    parts = list(pd.read_csv("big.csv", chunksize=4))
    pd.concat(parts).to_csv("copy.csv", index=False)
    assert captured.upstream("dataset:copy.csv") == {"dataset:big.csv"}
