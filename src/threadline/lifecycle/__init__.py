"""Lifecycle policies: which recorded dataset versions are kept, archived or erased, and when.

:mod:`.rules` reads and checks the declarative rules and legal holds of the settings file;
:mod:`.plan` weighs every dataset version of a store against them (``threadline gc --dry-run``).
"""
