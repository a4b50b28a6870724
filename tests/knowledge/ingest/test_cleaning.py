from __future__ import annotations

import json
import os
import re
import unicodedata
from pathlib import Path

import pytest

from knowledge.ingest.cleaning import ELLIPSIS, clean_text, normalise_lines
from knowledge.ingest.loader import load_kb_dir
from knowledge.ingest.sentences import split_sentences
from knowledge.models import Article
from knowledge.service import KnowledgeBase, bundled_kb_dir

# Page furniture in the bundled files: (file prefix, text that must not survive).
BUNDLED_FURNITURE = [
    ("002", "Image credit"),
    ("003", "Image credit"),
    ("000", "Source link"),
    ("002", "Via Reuters"),
    ("002", "resident mobile industry expert"),
    ("002", "McCaskill"),
    ("002", "Latest in"),
    ("002", "Philips Hue"),
    ("002", "Disney"),
    ("002", "Andor"),
    ("002", "Meta Quest"),
    ("003", "Sign up to the E&T News"),
    ("003", "Recent articles"),
    ("003", "Welcome Your IET account"),
    ("003", "cookies"),
    ("003", "Info Message"),
    ("001", "date 2019-10-22"),
]
# Lines that are furniture standing alone but whose words also occur inside body sentences.
BUNDLED_FURNITURE_LINES = [
    ("003", "Huawei CEO Ren Zhengfei"),  # photo caption
    ("002", "Huawei 5G"),  # sub-heading
]


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


def raw_of(prefix: str) -> str:
    (path,) = bundled_kb_dir().glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


def article_of(kb: KnowledgeBase, prefix: str) -> Article:
    (doc_id,) = [d for d in kb.snapshot.articles if d.startswith(prefix + "_")]
    article = kb.article(doc_id)
    assert article is not None
    return article


@pytest.mark.parametrize(("prefix", "furniture"), BUNDLED_FURNITURE)
def test_bundled_furniture_is_gone(kb: KnowledgeBase, prefix: str, furniture: str) -> None:
    found = re.compile(rf"\b{re.escape(furniture)}\b", re.IGNORECASE).search
    assert found(raw_of(prefix))  # the scrape does carry it
    for article in kb.snapshot.articles.values():
        assert not found(article.text), article.doc_id
    for passage in kb.snapshot.passages:
        assert not found(passage.text), passage.passage_id


@pytest.mark.parametrize(("prefix", "line"), BUNDLED_FURNITURE_LINES)
def test_bundled_standalone_furniture_lines_are_gone(
    kb: KnowledgeBase, prefix: str, line: str
) -> None:
    assert line in raw_of(prefix).splitlines()
    for article in kb.snapshot.articles.values():
        assert line not in [ln.strip() for ln in article.text.splitlines()]
    for passage in kb.snapshot.passages:
        assert passage.text.strip() != line


def test_bundled_tail_lists_of_other_headlines_are_gone(kb: KnowledgeBase) -> None:
    text = article_of(kb, "002").text
    assert text.endswith("treat the debate as technological rather than political.")
    for headline in ("GlocalMe KeyTracker", "FRITZ!Box", "Security Copilot", "The Office theme"):
        assert headline not in text


@pytest.mark.parametrize(
    ("prefix", "headline"),
    [
        ("000", "Huawei is in early talks with US companies to license the 5G platform"),
        ("002", "Huawei 'in talks' over 5G licensing with US firm"),
        ("003", "Huawei CEO: company willing to license 5G tech to US firms"),
    ],
)
def test_bundled_headline_is_metadata_not_body(
    kb: KnowledgeBase, prefix: str, headline: str
) -> None:
    assert headline in raw_of(prefix).splitlines()
    assert clean_text(raw_of(prefix)).headline == headline
    assert headline not in article_of(kb, prefix).text


def test_bundled_dateline_is_read_and_removed() -> None:
    cleaned = clean_text(raw_of("001"))
    assert cleaned.dateline == "2019-10-22"
    assert cleaned.text.startswith("Chinese vendor Huawei Technologies is in early-stage")


def test_bundled_body_paragraphs_are_verbatim(kb: KnowledgeBase) -> None:
    for prefix in ("000", "001", "002", "003", "004"):
        raw = " ".join(normalise_lines(raw_of(prefix)))
        for para in article_of(kb, prefix).text.split("\n\n"):
            assert para.removesuffix(ELLIPSIS) in raw, para


def test_cut_off_sentences_end_in_an_ellipsis(kb: KnowledgeBase) -> None:
    text = article_of(kb, "004").text
    assert "Samsung, LG, and ZTE all have declared more…\n" in text
    assert "saying it will build 600,000…\n" in text
    cut = [p for p in kb.snapshot.passages if p.text.endswith(ELLIPSIS)]
    assert {p.doc_id for p in cut} == {article_of(kb, "004").doc_id}
    assert len(cut) == 2
    # Complete sentences get no ellipsis, including ones that end in a closing quote.
    assert "(…). They have shown interest,” Pang reportedly said.\n" in article_of(kb, "001").text


# A scraped page written from scratch, with the same kinds of furniture as the bundled
# ones but none of their words: the rules must describe pages, not these five files.
SYNTHETIC_BODY = [
    "Acme Widgets said on Tuesday that it will license its solid-state battery patents to three "
    "rival carmakers for a flat annual fee.",
    "The company's chief executive, Maria Lopez, told analysts that the deal could be worth more "
    "than $2bn over a decade.",
    "Rival firms have been seeking access to the technology since 2018, according to people "
    "familiar with the talks.",
    "Analysts expect the licensing programme to expand into Europe and Asia within two",
]
SYNTHETIC_PAGE = "\n".join(
    [
        "Welcome back! Log in to your account",
        "Menu",
        "Widgets Inc chief executive Maria Lopez",
        "Acme Widgets to share battery patents",
        "Photo credit: Getty Images/John Smith",
        SYNTHETIC_BODY[0],
        "Advertisement",
        SYNTHETIC_BODY[1],
        "Battery deals",
        SYNTHETIC_BODY[2],
        SYNTHETIC_BODY[3],
        "Source: AP",
        "Jane Doe is Example News's senior technology reporter, covering batteries and cars.",
        "Sign up for the Example News daily newsletter",
        "Share this article",
        "More from Example News",
        "Ten gadgets we loved this year",
        "Why your phone battery dies so fast and what you can do about it today.",
        "We use cookies to improve your experience.",
        "© 2020 Example News. All rights reserved.",
    ]
)


def test_synthetic_page_keeps_exactly_the_body() -> None:
    cleaned = clean_text(SYNTHETIC_PAGE)
    assert cleaned.text.split("\n\n") == [*SYNTHETIC_BODY[:3], SYNTHETIC_BODY[3] + ELLIPSIS]
    assert cleaned.headline == "Acme Widgets to share battery patents"


@pytest.mark.parametrize(
    "furniture",
    [
        "Welcome back! Log in to your account",
        "Widgets Inc chief executive Maria Lopez",
        "Photo credit",
        "Advertisement",
        "Battery deals",
        "Source: AP",
        "senior technology reporter",
        "newsletter",
        "Share this article",
        "More from Example News",
        "Ten gadgets",
        "phone battery dies",
        "cookies",
        "All rights reserved",
        "Menu",
    ],
)
def test_synthetic_page_furniture_is_gone(furniture: str) -> None:
    assert furniture in SYNTHETIC_PAGE
    assert furniture not in clean_text(SYNTHETIC_PAGE).text
    assert any(furniture in line for line in clean_text(SYNTHETIC_PAGE).removed) or (
        furniture == clean_text(SYNTHETIC_PAGE).headline
    )


LEAD = (
    "Acme Widgets said on Tuesday that it will license its solid-state battery patents to "
    "three rival carmakers for a flat fee."
)
AFTER = "Analysts expect other carmakers to seek similar deals before the end of the year."


@pytest.mark.parametrize(
    "marker",
    [
        "Related stories",
        "Read more",
        "Read next",
        "More in Technology",
        "Most popular",
        "You may also like",
        "Recommended for you",
        "Top stories",
        "Comments",
    ],
)
def test_a_tail_marker_drops_everything_after_it(marker: str) -> None:
    other = "This other story about phones is a complete sentence that a reader might click."
    cleaned = clean_text("\n".join([LEAD, AFTER, marker, other, "Gadget of the week"]))
    assert cleaned.text.split("\n\n") == [LEAD, AFTER]


@pytest.mark.parametrize(
    "sentence",
    [
        # A knowledge base about licensing quotes sentences about copyright and source code.
        "Copyright licensing for software has become a battleground between the two "
        "companies, analysts said.",
        "Source code for the firmware will be handed over to the licensee under the agreement.",
        "The bakery chain agreed to license its cookie recipes to franchisees across Europe "
        "for ten years.",
        "Trending technologies such as solid-state batteries are expensive to develop, the "
        "company said.",
        "More from the patent portfolio will be offered to licensees next year, the company said.",
        "Latest in a string of licensing deals, the agreement covers every battery patent the "
        "firm holds.",
        "Most popular among licensees is the fast-charging patent, which dozens of carmakers use.",
        "Share this view, said the chief executive, who added that licensing would bring in "
        "billions.",
        "Via satellite links, the licensed technology reaches rural areas across the country.",
    ],
)
def test_body_sentences_that_start_like_furniture_are_kept(sentence: str) -> None:
    # Furniture rules are for short lines; a full body sentence is article text.
    cleaned = clean_text("\n".join([LEAD, sentence, AFTER]))
    assert cleaned.text.split("\n\n") == [LEAD, sentence, AFTER]


def test_extra_patterns_remove_matching_lines() -> None:
    raw = "\n".join([LEAD, "Editor's note: this story was updated with a comment.", AFTER])
    assert "Editor's note" in clean_text(raw).text
    cleaned = clean_text(raw, [r"^editor's note\b"])
    assert cleaned.text.split("\n\n") == [LEAD, AFTER]
    assert "Editor's note: this story was updated with a comment." in cleaned.removed


def test_extra_patterns_from_the_manifest(tmp_path: Path) -> None:
    body = "\n".join([LEAD, "Editor's note: this story was updated with a comment.", AFTER])
    (tmp_path / "acme.txt").write_text(body, encoding="utf-8")
    loaded = load_kb_dir(tmp_path)
    assert loaded.problems == ()
    assert "Editor's note" in loaded.articles[0].text
    (tmp_path / "manifest.toml").write_text(
        '[cleaning]\nextra_patterns = ["^Editor\'s note", "^Corrections? appended"]\n',
        encoding="utf-8",
    )
    loaded = load_kb_dir(tmp_path)
    assert loaded.problems == ()
    assert loaded.manifest.extra_patterns == ("^Editor's note", "^Corrections? appended")
    assert loaded.articles[0].text.split("\n\n") == [LEAD, AFTER]


def test_normalise_lines_removes_scraping_residue() -> None:
    raw = "\ufeffOne\u00a0two\u200bthree\r\nfour\t \tfive\rsix  "
    assert normalise_lines(raw) == ["One twothree", "four five", "six"]


def test_text_is_nfc_normalised() -> None:
    raw = LEAD.replace("said", "sai\u0301d")  # a decomposed accent
    text = clean_text(raw).text
    assert text == unicodedata.normalize("NFC", text)
    assert "saíd" in text


def test_only_furniture_leaves_no_text() -> None:
    assert clean_text("Advertisement\nShare this article\nWe use cookies.\n").text == ""


# Two SciFact abstracts (BEIR) that once lost all their text: one glues its sections to
# the stops ("…(YANA-C)’.Design:Food…") and mentions cookies and agreement far apart, the
# other opens with a copyright notice. Copies live in fixtures/ (the tests must not need
# ../shared).
SCIFACT_FIXTURES = Path(__file__).parent / "fixtures" / "scifact"


def _scifact_fixture(doc_id: str) -> tuple[str, str]:
    title, _, text = (
        (SCIFACT_FIXTURES / f"{doc_id}.txt").read_text(encoding="utf-8").partition("\n\n")
    )
    return title, text.strip()


def test_an_abstract_that_mentions_cookies_and_agreement_is_kept_whole() -> None:
    title, abstract = _scifact_fixture("4857093")
    cleaned = clean_text(f"{title}\n\n{abstract}\n")
    assert cleaned.headline == title
    assert cleaned.text == abstract
    assert cleaned.removed == ()


def test_a_copyright_notice_before_an_abstract_goes_and_the_abstract_stays() -> None:
    title, abstract = _scifact_fixture("80109277")
    assert abstract.startswith("© Joanna Moncrieff 2013. All rights reserved. A challenging")
    cleaned = clean_text(f"{title}\n\n{abstract}\n")
    assert cleaned.text == abstract.removeprefix("© Joanna Moncrieff 2013. All rights reserved. ")
    assert cleaned.text.endswith("their toxic effects minimized or ignored.")
    assert cleaned.removed == ("© Joanna Moncrieff 2013.", "All rights reserved.")


def test_both_scifact_abstracts_load_as_articles(tmp_path: Path) -> None:
    for path in SCIFACT_FIXTURES.glob("*.txt"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    loaded = load_kb_dir(tmp_path)
    assert loaded.problems == ()
    assert {a.doc_id: len(a.text) > 200 for a in loaded.articles} == {
        "4857093": True,
        "80109277": True,
    }


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        # A notice glued after prose goes; the prose stays verbatim.
        (
            f"{LEAD} {AFTER} Copyright 2021 Example News. All rights reserved.",
            f"{LEAD} {AFTER}",
        ),
        # A notice in the middle of prose is the prose's business: nothing goes.
        (f"{LEAD} Photo: Reuters. {AFTER}", f"{LEAD} Photo: Reuters. {AFTER}"),
        # A long sentence matching a notice rule is prose, not a notice.
        (
            "All rights reserved by the licensor under the 2019 agreement remain with the "
            "licensor, and the licensee may not sublicense them to any third party without "
            "written consent from the licensor, its successors or assigns, the filing said "
            "on Tuesday in the district court.",
            None,
        ),
    ],
)
def test_notices_are_cut_from_the_edges_of_prose_only(line: str, kept: str | None) -> None:
    cleaned = clean_text("\n".join([LEAD, line]))
    assert cleaned.text.split("\n\n") == [LEAD, kept if kept is not None else line]


def test_a_cookie_banner_of_several_sentences_still_goes() -> None:
    banner = (
        "We use cookies to give you a better experience. Please let us know if you agree "
        "to all of these cookies."
    )
    cleaned = clean_text("\n".join([LEAD, banner, AFTER]))
    assert cleaned.text.split("\n\n") == [LEAD, AFTER]


def _scifact_docs() -> list[dict[str, str]]:
    """SciFact's corpus when it is beside the checkout (``../shared`` of the checkout or
    of a folder above it, or ``LICENSEBOT_SCIFACT_DIR``), else the two fixture abstracts."""
    here = Path(__file__).resolve()
    candidates = [os.environ.get("LICENSEBOT_SCIFACT_DIR")]
    candidates += [str(p / "shared" / "beir" / "scifact") for p in here.parents]
    for candidate in candidates:
        if candidate and (Path(candidate) / "corpus.jsonl").is_file():
            with (Path(candidate) / "corpus.jsonl").open(encoding="utf-8") as fh:
                return [json.loads(line) for line in fh]
    return [
        {"_id": path.stem, "title": title, "text": text}
        for path in sorted(SCIFACT_FIXTURES.glob("*.txt"))
        for title, text in [_scifact_fixture(path.stem)]
    ]


def test_no_scifact_abstract_loses_a_sentence_of_prose() -> None:
    """Every sentence of every SciFact abstract survives cleaning, except notices."""
    lost: list[str] = []
    for doc in _scifact_docs():
        text = " ".join(normalise_lines(doc["text"]))
        cleaned = clean_text(f"{doc['title']}\n\n{doc['text']}\n")
        for s, e in split_sentences(text):
            sentence = text[s:e]
            if sentence not in cleaned.text and sentence not in cleaned.removed:
                lost.append(f"{doc['_id']}: {sentence[:60]}")
            elif sentence in cleaned.removed and len(sentence.split()) > 12:
                lost.append(f"{doc['_id']}: removed as a notice: {sentence[:60]}")
    assert lost == []


def test_bidi_overrides_and_isolates_are_removed_direction_marks_kept() -> None:
    raw = (
        "Quokka news\n\nA \u202espokesman\u202c said the \u2066licence\u2069 terms stand, "
        "and \u200fthat the \u202aoffer\u202b is open to every operator for a year.\n"
    )
    cleaned = clean_text(raw)
    assert "\u202e" not in cleaned.text and "\u2066" not in cleaned.text
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", cleaned.text)
    assert "A spokesman said the licence terms stand, and \u200fthat the offer" in cleaned.text
