"""Reading back a build file's raw layer, for tests that compare two loads of the same files."""

from __future__ import annotations

import duckdb

# columns that hold the run's clock: two loads of the same bytes differ there by design
CLOCK = frozenset({"loaded_at", "first_seen"})
# and the run's id, for loads made by different runs
VOLATILE = CLOCK | {"load_id"}


def raw_tables(db, ignore: frozenset[str] = VOLATILE) -> dict[str, list[tuple]]:
    """Every table of the ``raw`` schema as its rows in a canonical order, without the columns
    in ``ignore``."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw' "
                "order by 1"
            ).fetchall()
        ]
        out = {}
        for name in names:
            cols = [
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = 'raw' and table_name = ? order by ordinal_position",
                    [name],
                ).fetchall()
                if r[0] not in ignore
            ]
            select = ", ".join(f'"{c}"' for c in cols)
            out[name] = con.execute(f"select {select} from raw.{name} order by all").fetchall()
        return out
    finally:
        con.close()
