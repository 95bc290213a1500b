"""The threadline HTTP server: OpenLineage ingest, Marquez-compatible reads, lineage
questions and a change stream (:func:`threadline.server.app.create_app`)."""
