"""Drift between the two newest versions of each dataset.

* ``schema_drift`` (warn): columns added, removed or retyped, from the ``schema`` facets;
* ``distribution_drift`` (warn): a numeric column whose population stability index passed
  ``drift_psi_threshold``, or a categorical column one of whose values' share moved by more than
  ``drift_share_threshold``, from the ``threadline_column_stats`` facets capture records
  (:mod:`.distributions`).

Only datasets with two or more versions are read, and of those only the versions whose facets
hold a schema or statistics: one statement, ranked by a window function in the database.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.query.health.context import Draft, HealthContext, NodeRow
from threadline.query.health.distributions import psi, share_change

#: The facet capture writes column statistics into.
STATS_FACET: Final = "threadline_column_stats"

# The datasets with two versions or more come from the (node, time) index alone; only their
# versions' facets are read.
_NEWEST_TWO: Final = sa.text("""
WITH multi AS (SELECT node_id FROM tl_versions GROUP BY node_id HAVING COUNT(*) > 1)
SELECT node_id, kind, namespace, name, version, facets FROM (
    SELECT v.node_id, n.kind, n.namespace, n.name, v.version, v.facets,
           ROW_NUMBER() OVER (
               PARTITION BY v.node_id ORDER BY v.first_seen_us DESC, v.id DESC
           ) AS place
    FROM multi
    JOIN tl_versions v ON v.node_id = multi.node_id
    JOIN tl_nodes n ON n.id = v.node_id
    WHERE n.type = 'dataset'
    AND (v.facets LIKE '%"schema"%' OR v.facets LIKE '%threadline_column_stats%')
) ranked
WHERE place <= 2
ORDER BY node_id, place
""")


def _facets(text: str) -> dict[str, Any]:
    try:
        facets = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        return {}
    return facets if isinstance(facets, dict) else {}


def _columns(facets: dict[str, Any]) -> dict[str, str] | None:
    schema = facets.get("schema")
    if not isinstance(schema, dict) or not isinstance(schema.get("fields"), list):
        return None
    return {
        str(field.get("name")): str(field.get("type"))
        for field in schema["fields"]
        if isinstance(field, dict)
    }


def schema_change(old: dict[str, str], new: dict[str, str]) -> dict[str, Any]:
    """Columns added, removed and retyped from ``old`` to ``new`` (empty lists: no change)."""
    return {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "retyped": [
            {"column": c, "from": old[c], "to": new[c]}
            for c in sorted(set(old) & set(new))
            if old[c] != new[c]
        ],
    }


def _schema_draft(node: NodeRow, version: str, change: dict[str, Any]) -> Draft | None:
    parts = []
    if change["added"]:
        parts.append(f"added {', '.join(change['added'])}")
    if change["removed"]:
        parts.append(f"removed {', '.join(change['removed'])}")
    if change["retyped"]:
        retyped = (f"{r['column']} {r['from']}→{r['to']}" for r in change["retyped"])
        parts.append(f"retyped {', '.join(retyped)}")
    if not parts:
        return None
    return Draft(
        node,
        "schema_drift",
        "warn",
        "schema changed from the previous version: " + "; ".join(parts),
        "check the consumers of this dataset read the new columns, then re-run them",
        version=version,
        details=change,
    )


def column_drift(
    old: dict[str, Any], new: dict[str, Any], ctx: HealthContext
) -> list[dict[str, Any]]:
    """The columns whose distribution moved past the thresholds, with their figures."""
    old_columns, new_columns = old.get("columns") or {}, new.get("columns") or {}
    drifted = []
    for name in sorted(set(old_columns) & set(new_columns)):
        before, after = old_columns[name], new_columns[name]
        if not isinstance(before, dict) or not isinstance(after, dict):
            continue
        if before.get("histogram") and after.get("histogram"):
            index = psi(before["histogram"], after["histogram"])
            if index is not None and index > ctx.psi_threshold:
                drifted.append({"column": name, "psi": round(index, 4)})
        elif isinstance(before.get("top"), dict) and isinstance(after.get("top"), dict):
            change, category = share_change(before["top"], after["top"])
            if change > ctx.share_threshold:
                drifted.append(
                    {"column": name, "category": category, "share_change": round(change, 4)}
                )
    return drifted


def drift(conn: Connection, ctx: HealthContext) -> list[Draft]:
    pairs: dict[int, list[Any]] = defaultdict(list)
    for row in conn.execute(_NEWEST_TWO):
        pairs[int(row.node_id)].append(row)
    found = []
    for rows in pairs.values():
        if len(rows) < 2:
            continue
        newest, previous = rows
        node = NodeRow(int(newest.node_id), newest.kind, newest.namespace, newest.name)
        new_facets, old_facets = _facets(newest.facets), _facets(previous.facets)
        new_columns, old_columns = _columns(new_facets), _columns(old_facets)
        if new_columns is not None and old_columns is not None:
            draft = _schema_draft(node, newest.version, schema_change(old_columns, new_columns))
            if draft is not None:
                found.append(draft)
        new_stats, old_stats = new_facets.get(STATS_FACET), old_facets.get(STATS_FACET)
        if isinstance(new_stats, dict) and isinstance(old_stats, dict):
            drifted = column_drift(old_stats, new_stats, ctx)
            if drifted:
                names = ", ".join(
                    f"{d['column']} (PSI {d['psi']})"
                    if "psi" in d
                    else f"{d['column']} ({d['category']!s} share ±{d['share_change']})"
                    for d in drifted
                )
                found.append(
                    Draft(
                        node,
                        "distribution_drift",
                        "warn",
                        f"{len(drifted)} column(s) drifted from the previous version: {names}",
                        "compare the two versions' sources; retrain or recalibrate the models "
                        "fed by this data if the shift is real",
                        version=newest.version,
                        details={"columns": drifted, "previous": previous.version},
                    )
                )
    return found


CHECKS: Final = (drift,)

__all__ = ["CHECKS", "STATS_FACET", "column_drift", "drift", "schema_change"]
