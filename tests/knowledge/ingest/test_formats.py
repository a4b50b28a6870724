from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest

from knowledge.ingest.formats import SUPPORTED_SUFFIXES, FormatError, extract
from knowledge.ingest.loader import build_article, load_kb_dir
from knowledge.models import Article
from knowledge.service import KnowledgeBase

# trafilatura remembers text it has seen (process-wide); every page built here carries a
# fresh number in each paragraph so that no test depends on what another one extracted.
_serial = itertools.count(1001)


def paras() -> list[str]:
    n = next(_serial)
    return [
        f"Acme Widgets said on Tuesday that it will license its solid-state battery patents to "
        f"{n} rival carmakers for a flat annual fee, a move analysts called unprecedented.",
        f"The company's chief executive, Maria Lopez, told analysts that the licensing deal could "
        f"be worth more than {n} million dollars over the coming decade.",
        f"Rival firms have been seeking access to the technology since {n}, according to several "
        "people familiar with the negotiations between the carmakers.",
    ]


def news_page(body: list[str]) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Acme Widgets licenses battery patents | Example News</title>
<meta property="og:site_name" content="Example News">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2020-03-03">
</head><body>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience on
our site and to show you relevant advertising. <button>Accept all cookies</button></div>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/tech">Technology</a></li>
<li><a href="/cars">Cars</a></li><li><a href="/subscribe">Subscribe today</a></li></ul></nav>
</header>
<main><article>
<h1>Acme Widgets licenses battery patents</h1>
<p class="byline">By Jane Doe</p>
<p>{body[0]}</p>
<p>{body[1]}</p>
<p>{body[2]}</p>
</article></main>
<aside class="related"><h2>Related stories</h2><ul>
<li><a href="/a">Ten gadgets we loved this year and why you will love them too</a></li>
<li><a href="/b">Why your phone battery dies so fast in the cold winter months</a></li></ul></aside>
<footer><p>Copyright 2020 Example News. All rights reserved.</p>
<a href="/privacy">Privacy policy</a> <a href="/terms">Terms of use</a></footer>
</body></html>"""


def plain_page(body: list[str]) -> str:
    """A differently built page: no <article>, a consent dialog, share buttons, a newsletter."""
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<title>Acme opens its battery patents - The Signal Post</title></head><body>
<div class="gdpr-banner" role="dialog"><p>This website uses cookies and similar technologies to
personalise content and analyse our traffic. By continuing to browse you accept our use of
cookies.</p><a href="#">Manage preferences</a></div>
<div class="topbar"><ul class="menu"><li><a href="/">Front page</a></li>
<li><a href="/markets">Markets</a></li><li><a href="/login">Sign in</a></li></ul></div>
<div class="content">
<h1>Acme opens its battery patents</h1>
<div class="share"><a href="#">Share on Facebook</a> <a href="#">Share on X</a></div>
<p>{body[0]}</p>
<p>{body[1]}</p>
<div class="newsletter"><h3>Get the Signal Post briefing</h3><p>Subscribe to our newsletter for
the day's top telecom stories delivered to your inbox every morning.</p></div>
<p>{body[2]}</p>
</div>
<div class="related"><h4>Related articles</h4><ul><li><a href="/x">Satellite phones are finally
becoming affordable for hikers and sailors alike</a></li></ul></div>
<footer><p><a href="/about">About us</a> | <a href="/contact">Contact</a></p></footer>
</body></html>"""


PAGES = {"article-page": news_page, "div-page": plain_page}

FURNITURE = {
    "article-page": [
        "cookies", "Accept all", "Home", "Subscribe", "Related", "gadgets", "battery dies",
        "Privacy policy", "Terms of use", "All rights reserved", "By Jane Doe",
    ],
    "div-page": [
        "cookies", "Manage preferences", "Front page", "Sign in", "Share on", "newsletter",
        "Signal Post briefing", "Related", "Satellite phones", "About us", "Contact",
    ],
}  # fmt: skip


def build(name: str, content: str) -> Article:
    article, problems = build_article(name, content.encode("utf-8"), None)
    assert problems == []
    assert article is not None
    return article


def test_supported_suffixes() -> None:
    assert {".txt", ".md", ".markdown", ".html", ".htm"} <= SUPPORTED_SUFFIXES


def test_text_passes_through_unchanged() -> None:
    raw = "Line one\n\nLine *two* with <b>tags</b> and [a](link)"
    assert extract(".txt", raw).text == raw
    assert extract(".txt", raw).title is None


@pytest.mark.parametrize("kind", sorted(PAGES))
def test_html_article_body_is_extracted(kind: str) -> None:
    body = paras()
    assert build("acme.html", PAGES[kind](body)).text.split("\n\n") == body


@pytest.mark.parametrize(
    ("kind", "furniture"), [(kind, f) for kind, items in FURNITURE.items() for f in items]
)
def test_html_page_furniture_is_not_extracted(kind: str, furniture: str) -> None:
    page = PAGES[kind](paras())
    assert furniture.casefold() in page.casefold()
    assert furniture.casefold() not in build("acme.html", page).text.casefold()


def test_html_metadata_the_page_states_is_used_and_marked_derived() -> None:
    meta = build("acme.html", news_page(paras())).meta
    assert meta.title == "Acme Widgets licenses battery patents"
    assert meta.publisher == "Example News"
    assert meta.author == "Jane Doe"
    assert meta.published == dt.date(2020, 3, 3)
    assert meta.date_estimated is False
    assert meta.derived == {"title", "publisher", "author", "published"}


def test_html_without_a_stated_date_has_none() -> None:
    # Nothing dates this page: a date in the body and the copyright year are not its
    # publication date and must not be guessed into one.
    body = paras()
    body[2] += " The two firms first discussed a deal on 12 January 2017, according to a filing."
    page = plain_page(body).replace("<footer>", "<footer><p>&copy; 2023 The Signal Post Ltd.</p>")
    meta = build("acme.html", page).meta
    assert meta.published is None
    assert "published" not in meta.derived


def test_html_extraction_is_the_same_every_time() -> None:
    # A long-running bot reloads the same files again and again; each load must read the
    # same text, or passage offsets move and a reload is refused.
    page = news_page(paras())
    first = extract(".html", page)
    for _ in range(8):
        assert extract(".html", page) == first


def test_an_html_knowledge_base_survives_many_reloads(tmp_path: Path) -> None:
    body = paras()
    (tmp_path / "acme.html").write_text(plain_page(body), encoding="utf-8")
    kb = KnowledgeBase.load(tmp_path)
    before = kb.snapshot.articles["acme"].text
    for _ in range(8):
        kb.reload(by="test")
        assert kb.snapshot.articles["acme"].text == before == "\n\n".join(body)


@pytest.mark.parametrize("suffix", [".htm", ".HTML"])
def test_html_suffix_variants(suffix: str) -> None:
    body = paras()
    assert build(f"acme{suffix}", news_page(body)).text.split("\n\n") == body


@pytest.mark.parametrize(
    "page",
    ["<html></html>", "<html><head><title>Only a title</title></head><body></body></html>"],
)
def test_html_without_article_text_is_a_format_error(page: str) -> None:
    with pytest.raises(FormatError):
        extract(".html", page)
    article, problems = build_article("empty.html", page.encode(), None)
    assert article is None
    assert [p.file for p in problems] == ["empty.html"]
    assert "no article text" in problems[0].reason


def test_html_with_only_navigation_is_a_problem() -> None:
    page = '<html><body><nav><a href="/">Home</a> <a href="/x">World</a></nav></body></html>'
    article, problems = build_article("nav.html", page.encode(), None)
    assert article is None
    assert len(problems) == 1
    assert problems[0].file == "nav.html"


def markdown(body: list[str]) -> str:
    linked = body[0].replace(
        "solid-state battery", "[solid-state battery](https://example.com/ssb)"
    )
    emphasised = (
        body[1].replace("Maria Lopez", "**Maria Lopez**").replace("more than", "*more than*")
    )
    return f"""---
title: "Acme licenses battery patents"
author: Jane Doe
publisher: Example News
date: 2020-03-03
url: https://example.com/acme
---
# Acme licenses battery patents

![Acme factory](factory.jpg)

{linked}

## The deal

- {emphasised}

```python
print("code is not article prose")
```

> {body[2]}
"""


def test_markdown_front_matter_and_syntax() -> None:
    body = paras()
    article = build("acme.md", markdown(body))
    assert article.text.split("\n\n") == body
    meta = article.meta
    assert meta.title == "Acme licenses battery patents"
    assert meta.author == "Jane Doe"
    assert meta.publisher == "Example News"
    assert meta.published == dt.date(2020, 3, 3)
    assert meta.url == "https://example.com/acme"
    assert meta.derived == {"title", "author", "publisher", "published", "url"}


def test_markdown_without_front_matter_uses_its_heading() -> None:
    body = paras()
    md = "# Acme licenses battery patents\n\n" + "\n\n".join(body) + "\n"
    article = build("acme.markdown", md)
    assert article.meta.title == "Acme licenses battery patents"
    assert article.text.split("\n\n") == body
    assert article.meta.published is None
    assert article.meta.publisher is None


def test_markdown_extract_strips_markup() -> None:
    text = extract(".md", "Some **bold**, _em_, `code` and [a link](http://x).").text
    assert text == "Some bold, em, code and a link."


def test_a_knowledge_base_may_mix_formats(tmp_path: Path) -> None:
    texts = {"a": paras(), "b": paras(), "c": paras()}
    (tmp_path / "a.txt").write_text("\n".join(texts["a"]), encoding="utf-8")
    (tmp_path / "b.md").write_text(markdown(texts["b"]), encoding="utf-8")
    (tmp_path / "c.html").write_text(news_page(texts["c"]), encoding="utf-8")
    loaded = load_kb_dir(tmp_path)
    assert loaded.problems == ()
    assert {a.doc_id: a.text.split("\n\n") for a in loaded.articles} == texts
