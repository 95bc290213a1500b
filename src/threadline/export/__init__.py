"""Open formats out, and OpenLineage in.

* :mod:`.openlineage`: the log as OpenLineage NDJSON (the stored bodies, byte for byte), and
  importing such a file into a store;
* :mod:`.graph`: the part of the graph an export covers, as a
  :class:`~threadline.query.result.LineageGraph`;
* :mod:`.prov`: W3C PROV (PROV-JSON and PROV-O Turtle) through the ``prov`` package;
* :mod:`.dot`: Graphviz.
"""
