"""threadline's test suite.

A regular package, not a namespace one: marquez-python (a dev dependency) installs its own
top-level ``tests`` package, which would otherwise shadow ``tests.support`` and friends.
"""
