"""Access control for ``threadline serve``: identities (:mod:`.tokens`, :mod:`.oidc`), roles
and clearances (:mod:`.grants`), one rule per route (:mod:`.rules`), answers reduced to what a
caller may see (:mod:`.redact`), and the middleware that applies them (:mod:`.guard`)."""
