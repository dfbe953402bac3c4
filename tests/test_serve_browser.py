"""`papers serve` in a real browser: headless Chromium (Debian's, driven by Playwright
through `executable_path`; no browser download) against a server the test starts on a
free local port over a small corpus. Screenshots go to tests/artifacts/ (ignored by
git). Without Chromium or Playwright these tests skip, saying why; tests/test_serve.py
still checks the pages over plain HTTP."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serve_corpus import HOSTILE_ARXIV, build, papers, serving

pytest.importorskip("datasette", reason="the serve extra is not installed "
                    "(pip install 'papers-cli[serve]')")
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="Playwright is not installed (make install)")

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def chromium() -> str | None:
    """Debian's Chromium binary (the /usr/bin/chromium wrapper is a shell script)."""
    for path in (os.environ.get("PAPERS_CHROMIUM"), "/usr/lib/chromium/chromium",
                 shutil.which("chromium"), shutil.which("chromium-browser"),
                 shutil.which("google-chrome")):
        if path and os.access(path, os.X_OK):
            return path
    return None


CHROMIUM = chromium()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium here (apt-get install chromium; .ci/run does)")]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def site(corpus: Path) -> Iterator[str]:
    with serving(corpus) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    p = ctx.new_page()
    p.dialogs = []
    p.on("dialog", lambda d: (p.dialogs.append(d.message), d.dismiss()))
    yield p
    ctx.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"serve-{name}.png"), full_page=True)


def pid_of(db: Path, ident: str) -> int:
    import json

    return int(json.loads(papers(db, "show", ident, "--json").stdout)["id"])


def test_home_lists_papers(page: Any, site: str) -> None:
    page.goto(site + "/")
    items = page.locator("li.paper")
    assert items.count() == 50  # a page of the 127 papers
    assert page.locator("li.paper a.title").first.inner_text().strip()
    shot(page, "home")


def test_search_finds_activation_sparsity_with_a_snippet(page: Any, site: str) -> None:
    page.goto(site + "/")
    page.fill("input[name=q]", "activation sparsity")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/search?q=activation+sparsity*")
    first = page.locator("li.hit").first
    assert "ProSparse" in first.locator("a.title").inner_text()
    assert first.locator("p.snippet mark").count() >= 2
    assert "activation sparsity" in first.locator("p.snippet").inner_text().lower()
    shot(page, "search")


def test_a_paper_page_shows_authors_and_the_upvote_chart(page: Any, site: str,
                                                          corpus: Path) -> None:
    page.goto(f"{site}/paper/{pid_of(corpus, '2411.02335')}")
    assert "Yuqi Luo" in page.locator("p.authors").inner_text()
    chart = page.locator("svg.papers-chart")
    assert chart.is_visible() and chart.locator("circle").count() >= 1
    page.goto(f"{site}/paper/{pid_of(corpus, HOSTILE_ARXIV)}")
    assert not page.locator("input[name=full_text]").is_checked()
    assert page.locator("svg.papers-chart polyline").is_visible()
    assert page.locator("svg.papers-chart circle").count() == 3
    shot(page, "paper")


def test_hostile_text_shows_as_text_and_runs_nothing(page: Any, site: str,
                                                     corpus: Path) -> None:
    pid = pid_of(corpus, HOSTILE_ARXIV)
    for path in (f"/paper/{pid}", "/search?q=hostile", "/", f"/corpus/papers/{pid}",
                 "/corpus/papers?_search=hostile", "/corpus/search?q=hostile"):
        page.goto(site + path)
        page.wait_for_load_state("load")
        assert page.evaluate("typeof window.__pwned") == "undefined", path
        assert page.dialogs == [], path
        assert page.locator("script:has-text('__pwned')").count() == 0, path
        assert page.locator("a[href^='javascript:' i], iframe").count() == 0, path
    page.goto(f"{site}/paper/{pid}")
    title = page.locator("h1.paper-title").inner_text()
    assert "<script>window.__pwned=1</script>" in title and "\\u202e" in title
    text = page.locator("div.papers-text").inner_text()
    assert "activation sparsity" in text and "<script>" not in page.locator(
        "div.papers-text").inner_html()
    for link in page.locator("a").all():  # every link a page made is http(s) or local
        href = link.get_attribute("href") or ""
        assert href.startswith(("http://", "https://", "/", "?", "#")), href
    shot(page, "hostile")


def test_no_write_endpoint_works(page: Any, site: str, corpus: Path) -> None:
    before = hashlib.sha256(corpus.read_bytes()).hexdigest()
    page.goto(site + "/")
    statuses = page.evaluate("""async () => {
        const out = [];
        for (const [path, method] of [["/corpus/search", "POST"], ["/corpus/papers", "POST"],
                ["/corpus/papers/1", "DELETE"], ["/paper/1", "PUT"],
                ["/corpus/-/insert", "POST"], ["/feed/digest.atom", "PATCH"]]) {
            const r = await fetch(path, {method, body: "q=x"});
            out.push(r.status);
        }
        const sql = await fetch("/corpus.json?sql=" +
            encodeURIComponent("delete from papers"));
        out.push(sql.status);
        return out;
    }""")
    assert statuses == [405] * 6 + [400]
    page.goto(site + "/corpus?sql=" + "update%20papers%20set%20title%3D%27x%27")
    assert "Statement must be a SELECT" in page.content()
    assert hashlib.sha256(corpus.read_bytes()).hexdigest() == before
