"""Getting lineage in: explicit API, emitter, and (see ``hooks``) automatic capture."""
