"""``/docs`` works offline: the page loads Swagger UI from this server, never from a CDN."""

from __future__ import annotations

import re
import urllib.parse

from tests.support.live import Server


def referenced(html: str) -> list[str]:
    """Every URL the page loads or links: src and href attributes, and the ``url`` Swagger UI
    is told to fetch."""
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    urls += re.findall(r"""\burl\s*:\s*["']([^"']+)["']""", html)
    return urls


def test_the_docs_page_loads_only_what_this_server_serves(server: Server) -> None:
    client = server.client()
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    urls = referenced(page.text)
    assert any(url.endswith("swagger-ui-bundle.js") for url in urls), urls
    assert any(url.endswith("swagger-ui.css") for url in urls), urls
    assert "/openapi.json" in urls
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        # Local: no scheme and no host, so the browser asks this server.
        assert not parts.scheme, url
        assert not parts.netloc, url
        answer = client.get(urllib.parse.urljoin("/docs", url))
        assert answer.status_code == 200, url
        assert answer.content, url


def test_the_cdn_only_pages_are_not_offered(server: Server) -> None:
    assert server.client().get("/redoc").status_code == 404
