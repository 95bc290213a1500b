"""Every route of the app has an access rule: a route without one would be refused with auth
on (default deny), and one added without thought should fail here, not in production."""

from __future__ import annotations

from starlette.routing import Mount, Route

from threadline.config import Settings
from threadline.server.app import create_app
from threadline.server.auth.rules import RULES, match


def _paths() -> list[tuple[str, str]]:
    app = create_app(Settings(store_url="sqlite:///:memory:"))
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if isinstance(route, Mount):
            found.append(("GET", route.path.rstrip("/") + "/some/file.js"))
        elif isinstance(route, Route):
            example = route.path.replace("{page:path}", "run/abc")
            for name in ("namespace", "dataset", "job", "version", "run_id", "tag", "field"):
                example = example.replace("{" + name + "}", "x")
            example = example.replace("{source:path}", "x")
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                found.append((method, example))
    return found


def test_every_route_of_the_app_has_a_rule() -> None:
    paths = _paths()
    assert ("GET", "/ui/run/abc") in paths
    missing = [(m, p) for m, p in paths if match(m, p) is None]
    assert missing == []


def test_the_web_ui_is_public_and_the_api_it_calls_is_not() -> None:
    for path in ("/", "/ui", "/ui/node", "/ui/run/abc", "/ui/assets/index-1.js"):
        found = match("GET", path)
        assert found is not None, path
        assert found.rule.public, path
    assert not RULES[("GET", "/api/v1/threadline/health/history")].public
