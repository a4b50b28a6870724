"""Pure Block Kit builders: data in, Slack message dictionaries out.

Everything that comes from an article, a manifest or a user is untrusted and goes
through ``escape`` before it is placed in a text object, so a quote cannot ping a
channel or smuggle a link. Every builder stays inside Slack's documented limits
(50 blocks per message, 100 per modal, 3,000 characters per section text) by
cutting with "…" and pointing at a way to see the rest, never by erroring.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from knowledge.answering.timeline import Timeline, TimelineEvent, TimelineSource
from knowledge.models import NOT_IN_KB, Answer, Article, Problem, Quote
from knowledge.service import KBStatus, ReloadResult, ReloadStage
from knowledge.store.admin import AddResult

Block = dict[str, Any]

ACTION_POST_TO_CHANNEL = "post_to_channel"
ACTION_FULL_ARTICLE = "full_article"
ACTION_FEEDBACK_HELPFUL = "feedback_helpful"
ACTION_FEEDBACK_NOT_HELPFUL = "feedback_not_helpful"
# Every action id a message built here can carry; the app must register exactly these.
ACTION_IDS: frozenset[str] = frozenset(
    {
        ACTION_POST_TO_CHANNEL,
        ACTION_FULL_ARTICLE,
        ACTION_FEEDBACK_HELPFUL,
        ACTION_FEEDBACK_NOT_HELPFUL,
    }
)

MAX_MESSAGE_BLOCKS = 50
MAX_MODAL_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_CONTEXT_TEXT = 3000
MAX_FALLBACK_TEXT = 4000
MAX_BUTTON_VALUE = 2000
MAX_MODAL_TITLE = 24
# Room kept under a hard limit for the "…" and a trailing note.
_SLACK_MARGIN = 100
_QUESTION_DISPLAY_CHARS = 500
_FALLBACK_QUOTE_CHARS = 300

SOURCES_HINT = "Try `/kb sources` to see which articles I know about."
USAGE_TEXT = (
    "Ask me about technology-licensing news and I answer with verbatim, attributed quotes "
    "from the knowledge base.\n"
    "• `/ask does Huawei want to license its 5G technology?` (answer visible only to you)\n"
    "• mention me in a channel: `@licensebot who would license Huawei's 5G patents?`\n"
    "• or send me a direct message.\n" + SOURCES_HINT
)

_SAFE_URL = re.compile(r"https?://[^\s<>|]+")


@dataclass(frozen=True)
class Message:
    """A chat message: ``text`` is the notification fallback, ``blocks`` the layout."""

    text: str
    blocks: list[Block]

    def as_payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def escape(text: str) -> str:
    """Escape Slack's three control characters so ``text`` renders literally."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --------------------------------------------------------------------------- text objects


def _mrkdwn(text: str, *, verbatim: bool = True) -> dict[str, Any]:
    # verbatim stops Slack from auto-linking bare URLs and #channel names in untrusted text.
    return {"type": "mrkdwn", "text": text, "verbatim": verbatim}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _section(text: str, *, block_id: str | None = None, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": _mrkdwn(_cut_rendered(text, MAX_SECTION_TEXT))}
    if block_id is not None:
        block["block_id"] = block_id
    if accessory is not None:
        block["accessory"] = accessory
    return block


def _context(text: str, *, block_id: str | None = None) -> Block:
    block: Block = {
        "type": "context",
        "elements": [_mrkdwn(_cut_rendered(text, MAX_CONTEXT_TEXT))],
    }
    if block_id is not None:
        block["block_id"] = block_id
    return block


def _button(label: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError(f"button value of {len(value)} characters exceeds {MAX_BUTTON_VALUE}")
    button: Block = {
        "type": "button",
        "text": _plain(label),
        "action_id": action_id,
        "value": value,
    }
    if style is not None:
        button["style"] = style
    return button


def _cut_rendered(text: str, limit: int) -> str:
    """Last-resort cut of already-escaped mrkdwn without splitting an entity."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def _shorten(text: str, limit: int) -> str:
    """Cut raw (unescaped) text to ``limit`` characters at a word boundary, adding "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


# --------------------------------------------------------------------------- quotes


def _normalise_spans(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Clip, trim, order and merge highlight spans so they render as valid bold runs."""
    cleaned: list[tuple[int, int]] = []
    for raw_start, raw_end in spans:
        start, end = max(0, raw_start), min(len(text), raw_end)
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        # A bold run cannot cross a line break in mrkdwn.
        if start < end and "\n" not in text[start:end]:
            cleaned.append((start, end))
    cleaned.sort()
    merged: list[tuple[int, int]] = []
    for start, end in cleaned:
        if merged and start <= merged[-1][1]:
            if "\n" not in text[merged[-1][0] : max(end, merged[-1][1])]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            continue
        merged.append((start, end))
    return merged


def _render_quote(text: str, spans: Sequence[tuple[int, int]], cut: int) -> str:
    """Blockquote of ``text[:cut]``, escaped segment by segment, highlights in bold."""
    parts: list[str] = []
    pos = 0
    for start, end in spans:
        if start >= cut:
            break
        stop = min(end, cut)
        parts.append(escape(text[pos:start]))
        parts.append("*" + escape(text[start:stop]) + "*")
        pos = stop
    parts.append(escape(text[pos:cut]))
    body = "".join(parts)
    if cut < len(text):
        body = body.rstrip() + "…"
    lines = body.split("\n")
    return "\n".join("> " + line if line.strip() else ">" for line in lines)


def quote_mrkdwn(
    text: str, highlights: Iterable[tuple[int, int]] = (), *, limit: int = MAX_SECTION_TEXT
) -> tuple[str, bool]:
    """The quote as a Slack blockquote with matched terms bold, and whether it was cut.

    ``highlights`` are (start, end) offsets into ``text``. Escaping happens per segment
    so the offsets keep pointing at the right characters.
    """
    spans = _normalise_spans(text, highlights)
    full = _render_quote(text, spans, len(text))
    if len(full) <= limit:
        return full, False
    # Largest cut at a word boundary whose rendering fits: rendering grows with the cut.
    boundaries = [i for i, ch in enumerate(text) if ch.isspace()] or list(range(len(text)))
    lo, hi, best = 0, len(boundaries) - 1, 0
    while lo <= hi:
        mid = (lo + hi) // 2
        if len(_render_quote(text, spans, boundaries[mid])) <= limit:
            best = boundaries[mid]
            lo = mid + 1
        else:
            hi = mid - 1
    return _render_quote(text, spans, best), True


def _source_name(title: str | None, publisher: str | None, doc_id: str) -> str:
    return publisher or title or doc_id


def attribution_line(quote: Quote) -> str:
    """ "— title · publisher · date · also reported by …", escaped, missing parts left out."""
    parts = [escape(quote.title) if quote.title else "untitled"]
    if quote.publisher:
        parts.append(escape(quote.publisher))
    date = quote.published_label
    if date:
        parts.append(date)
    others: list[str] = []
    for ref in quote.also_reported_by:
        name = _source_name(ref.title, ref.publisher, ref.doc_id)
        if ref.published_label is not None:
            name += f" ({ref.published_label})"
        if name not in others:
            others.append(name)
    if others:
        parts.append("also reported by " + ", ".join(escape(name) for name in others))
    return "— " + " · ".join(parts)


# --------------------------------------------------------------------------- button values


@dataclass(frozen=True)
class ShareRef:
    """What "Post to channel" needs to rebuild the answer the user saw."""

    question: str
    top: int
    kb_version: str
    request_id: str


@dataclass(frozen=True)
class ArticleRef:
    """Which article "Full article" opens and which span of it to mark."""

    doc_id: str
    start: int
    end: int
    kb_version: str


@dataclass(frozen=True)
class FeedbackRef:
    """Which answer a "Helpful" / "Not helpful" click is about."""

    request_id: str
    kb_version: str
    answered: bool
    passage_ids: tuple[str, ...]
    question: str


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _dump_with_question(data: dict[str, Any], question: str) -> str:
    """Serialise, shortening ``question`` until the value fits a button."""
    keep = len(question)
    while True:
        value = _dump({**data, "q": question[:keep]})
        if len(value) <= MAX_BUTTON_VALUE:
            return value
        keep -= max(1, len(value) - MAX_BUTTON_VALUE)
        if keep < 0:
            raise ValueError("button value does not fit even without the question")


def encode_share(ref: ShareRef) -> str:
    return _dump_with_question(
        {"k": ref.top, "v": ref.kb_version, "r": ref.request_id}, ref.question
    )


def encode_article(ref: ArticleRef) -> str:
    return _dump({"d": ref.doc_id, "s": ref.start, "e": ref.end, "v": ref.kb_version})


def encode_feedback(ref: FeedbackRef) -> str:
    return _dump_with_question(
        {"r": ref.request_id, "v": ref.kb_version, "a": ref.answered, "p": list(ref.passage_ids)},
        ref.question,
    )


def _load(value: str) -> dict[str, Any]:
    try:
        data = json.loads(value)
    except (TypeError, ValueError) as exc:
        raise ValueError("button value is not JSON") from exc
    if not isinstance(data, dict):
        raise ValueError("button value is not an object")
    return data


def _field(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    # bool is an int subclass; never accept it where a number is expected.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"button value field {key!r} is not {kind.__name__}")
    return value


def decode_share(value: str) -> ShareRef:
    data = _load(value)
    return ShareRef(
        question=_field(data, "q", str),
        top=_field(data, "k", int),
        kb_version=_field(data, "v", str),
        request_id=_field(data, "r", str),
    )


def decode_article(value: str) -> ArticleRef:
    data = _load(value)
    return ArticleRef(
        doc_id=_field(data, "d", str),
        start=_field(data, "s", int),
        end=_field(data, "e", int),
        kb_version=_field(data, "v", str),
    )


def decode_feedback(value: str) -> FeedbackRef:
    data = _load(value)
    passage_ids = _field(data, "p", list)
    if not all(isinstance(p, str) for p in passage_ids):
        raise ValueError("button value field 'p' is not a list of strings")
    return FeedbackRef(
        request_id=_field(data, "r", str),
        kb_version=_field(data, "v", str),
        answered=_field(data, "a", bool),
        passage_ids=tuple(passage_ids),
        question=_field(data, "q", str),
    )


# --------------------------------------------------------------------------- answers


def _question_line(question: str) -> str:
    return "*Q:* " + escape(_shorten(" ".join(question.split()), _QUESTION_DISPLAY_CHARS))


def _fallback_text(answer: Answer) -> str:
    question = _shorten(" ".join(answer.question.split()), 200)
    if not answer.answered:
        reason = answer.reason or NOT_IN_KB
        text = f"{reason} — “{question}”"
    else:
        first = answer.quotes[0]
        excerpt = _shorten(" ".join(first.text.split()), _FALLBACK_QUOTE_CHARS)
        source = first.publisher or first.title or first.doc_id
        count = len(answer.quotes)
        plural = "quote" if count == 1 else "quotes"
        text = f"{count} {plural} for “{question}”: “{excerpt}” — {source}"
    return _cut_rendered(escape(text), MAX_FALLBACK_TEXT)


def _quote_blocks(quote: Quote, index: int, kb_version: str) -> list[Block]:
    body, cut = quote_mrkdwn(quote.text, quote.highlights, limit=MAX_SECTION_TEXT - _SLACK_MARGIN)
    if cut:
        body += "\n_Quote shortened — *Full article* shows all of it._"
    button = _button(
        "Full article",
        ACTION_FULL_ARTICLE,
        encode_article(
            ArticleRef(doc_id=quote.doc_id, start=quote.start, end=quote.end, kb_version=kb_version)
        ),
    )
    return [
        _section(body, block_id=f"quote_{index}", accessory=button),
        _context(attribution_line(quote), block_id=f"source_{index}"),
    ]


def _actions(answer: Answer, *, request_id: str, top: int, shareable: bool) -> Block:
    feedback = encode_feedback(
        FeedbackRef(
            request_id=request_id,
            kb_version=answer.kb_version,
            answered=answer.answered,
            passage_ids=tuple(q.passage_id for q in answer.quotes),
            question=answer.question,
        )
    )
    elements: list[Block] = []
    if shareable and answer.answered:
        share = encode_share(
            ShareRef(
                question=answer.question,
                top=top,
                kb_version=answer.kb_version,
                request_id=request_id,
            )
        )
        elements.append(_button("Post to channel", ACTION_POST_TO_CHANNEL, share, style="primary"))
    elements.append(_button("Helpful", ACTION_FEEDBACK_HELPFUL, feedback))
    elements.append(_button("Not helpful", ACTION_FEEDBACK_NOT_HELPFUL, feedback))
    return {"type": "actions", "block_id": "answer_actions", "elements": elements}


def _footer(answer: Answer, *, request_id: str, asked_by: str | None, note: str | None) -> Block:
    parts: list[str] = []
    if asked_by is not None:
        # A user id from Slack's signed payload, so a real mention, not untrusted text.
        parts.append(f"Asked by <@{asked_by}> with /ask")
    if note:
        parts.append(escape(note))
    parts.append(f"kb {escape(answer.kb_version[:8])} · ref {escape(request_id)}")
    return _context(" · ".join(parts), block_id="answer_footer")


def answer_message(
    answer: Answer,
    *,
    request_id: str,
    top: int = 3,
    shareable: bool = False,
    asked_by: str | None = None,
    note: str | None = None,
) -> Message:
    """The answer as a chat message.

    ``shareable`` adds the "Post to channel" button (for private /ask answers);
    ``asked_by`` attributes a shared answer to the user who asked.
    """
    blocks: list[Block] = [_section(_question_line(answer.question), block_id="question")]
    if not answer.answered:
        blocks.extend(_not_found_blocks(answer))
    else:
        tail = 2  # actions + footer
        extra: list[Block] = []
        if answer.truncated:
            extra.append(_context("Your question was long, so only its beginning was used."))
        if answer.unmatched_terms:
            terms = ", ".join(escape(t) for t in answer.unmatched_terms)
            extra.append(_context(f"Not found in any article: {terms}"))
        room = MAX_MESSAGE_BLOCKS - len(blocks) - tail - len(extra) - 1
        shown = answer.quotes[: max(1, room // 2)]
        for i, quote in enumerate(shown):
            blocks.extend(_quote_blocks(quote, i, answer.kb_version))
        hidden = len(answer.quotes) - len(shown)
        if hidden:
            extra.append(_context(f"…and {hidden} more quotes not shown here."))
        blocks.extend(extra)
    blocks.append(_actions(answer, request_id=request_id, top=top, shareable=shareable))
    blocks.append(_footer(answer, request_id=request_id, asked_by=asked_by, note=note))
    return Message(text=_fallback_text(answer), blocks=blocks[:MAX_MESSAGE_BLOCKS])


def _not_found_blocks(answer: Answer) -> list[Block]:
    reason = answer.reason or f"{NOT_IN_KB}: no article contains a matching passage."
    if answer.reason is None or (answer.refusal is not None and answer.refusal.not_in_kb):
        rest = reason.removeprefix(NOT_IN_KB).lstrip(" :—-")
        lines = [f"*{NOT_IN_KB}:* {escape(rest)}"]
    else:
        lines = [escape(reason)]
    if answer.hint:
        lines.append(escape(answer.hint))
    blocks = [_section("\n".join(lines), block_id="not_found")]
    if "/kb sources" not in (answer.hint or ""):
        blocks.append(_context(SOURCES_HINT, block_id="sources_hint"))
    return blocks


# --------------------------------------------------------------------------- short messages


def usage_message() -> Message:
    return Message(text=escape(USAGE_TEXT), blocks=[_section(escape(USAGE_TEXT))])


def unavailable_message(request_id: str) -> Message:
    text = f"I can't answer right now (ref {escape(request_id)})."
    return Message(text=text, blocks=[_section(text)])


def apology_message(request_id: str, what: str = "answer your question") -> Message:
    text = (
        f"Sorry — I couldn't {escape(what)} because Slack did not accept my reply. "
        f"Please try again in a minute (ref {escape(request_id)})."
    )
    return Message(text=text, blocks=[_section(text)])


def failure_message(request_id: str) -> Message:
    text = f"Sorry — something went wrong on my side (ref {escape(request_id)})."
    return Message(text=text, blocks=[_section(text)])


def notice_message(text: str) -> Message:
    """A one-line private notice; ``text`` is our own wording, escaped all the same."""
    return Message(text=escape(text), blocks=[_section(escape(text))])


# --------------------------------------------------------------------------- full article


def _split_paragraph(paragraph: str, limit: int) -> list[str]:
    """Raw pieces of ``paragraph`` whose escaped form fits ``limit``, split at spaces."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for token in re.split(r"(?<=\s)", paragraph):
        word = token
        cost = len(escape(word))
        if current and size + cost > limit:
            pieces.append("".join(current))
            current, size = [], 0
        while cost > limit:  # one enormous "word"
            head = word[: max(1, limit // 5)]
            pieces.append(head)
            word = word[len(head) :]
            cost = len(escape(word))
        current.append(word)
        size += cost
    if current:
        pieces.append("".join(current))
    return pieces


def _chunks(text: str, limit: int) -> list[str]:
    """Escaped chunks of ``text``, each within ``limit``, broken between paragraphs if possible."""
    chunks: list[str] = []
    current = ""
    for raw in re.split(r"\n\s*\n", text):
        paragraph = raw.strip()
        if not paragraph:
            continue
        for piece in _split_paragraph(paragraph, limit):
            rendered = escape(piece.strip())
            if current and len(current) + 2 + len(rendered) > limit:
                chunks.append(current)
                current = ""
            current = f"{current}\n\n{rendered}" if current else rendered
    if current:
        chunks.append(current)
    return chunks


def _source_link(url: str | None) -> str | None:
    if url is None:
        return None
    if _SAFE_URL.fullmatch(url):
        return f"<{url}|source>"
    return escape(url)


def article_view(
    article: Article, *, start: int | None = None, end: int | None = None, note: str | None = None
) -> dict[str, Any]:
    """A modal showing the cleaned article, the quoted span ``[start, end)`` marked."""
    meta = article.meta
    blocks: list[Block] = [_section(f"*{escape(meta.title) if meta.title else 'untitled'}*")]
    about = [escape(p) for p in (meta.publisher, meta.author) if p]
    date = meta.published_label
    if date:
        about.append(date)
    link = _source_link(meta.url)
    if link:
        about.append(link)
    if about:
        blocks.append(_context(" · ".join(about)))
    if note:
        blocks.append(_context(escape(note)))
    blocks.append({"type": "divider"})

    text = article.text
    marked = start is not None and end is not None and 0 <= start < end <= len(text)
    limit = MAX_SECTION_TEXT - _SLACK_MARGIN
    body: list[Block] = []
    if marked:
        assert start is not None and end is not None
        body.extend(_section(c) for c in _chunks(text[:start], limit))
        quoted, _ = quote_mrkdwn(text[start:end].strip(), limit=limit)
        body.append(_section("*Quoted passage:*\n" + quoted, block_id="quoted_passage"))
        body.extend(_section(c) for c in _chunks(text[end:], limit))
    else:
        body.extend(_section(c) for c in _chunks(text, limit))

    room = MAX_MODAL_BLOCKS - len(blocks)
    if len(body) > room:
        shown = body[: room - 1]
        hidden_chars = sum(len(b["text"]["text"]) for b in body[room - 1 :])
        more = f"…the article continues ({hidden_chars:,} more characters)"
        more += f": {link}" if link else "."
        shown.append(_context(more))
        body = shown
    blocks.extend(body)
    return {
        "type": "modal",
        "title": _plain("Full article"[:MAX_MODAL_TITLE]),
        "close": _plain("Close"),
        "blocks": blocks,
    }


# =========================================================================== /kb (issue 6)
# Knowledge-base administration replies: status, sources, reload progress and diff,
# refusals with every problem, uploads. Owned by the knowledge-base admin feature;
# everything above is the Slack app's and untouched by it.

KB_USAGE_TEXT = (
    "*Knowledge-base commands*\n"
    "• `/kb status`: the version this replica serves, counts, the last load and reload\n"
    "• `/kb sources`: the articles, with publisher, date and passage count\n"
    "• `/kb reload` (admins): re-read the knowledge-base directory and swap it in; any "
    "invalid article refuses it and the old version keeps serving\n"
    "• `/kb reload skip-invalid` (admins): the same, serving the valid articles and listing "
    "the invalid ones it left out\n"
    "• `/kb add` (admins): how to add an article by sending me a file\n"
    "• `/kb help`: this list"
)
KB_ADD_TEXT = (
    "*Adding an article*\n"
    "Send me the article as a `.txt`, `.md` or `.html` file in this direct message, with its "
    "metadata in the message, for example:\n"
    "`title=Huawei offers 5G licence publisher=Reuters date=2019-10-18 author=Jane Doe "
    "url=https://example.com/story`\n"
    "Prefix the date with `~` if it is an estimate. Fields you leave out are derived from "
    "the text and marked as derived. The file is validated, written to the knowledge base "
    "with a manifest entry, and loaded the same way as `/kb reload`; an invalid file "
    "changes nothing."
)
KB_STAGE_DONE = {"validate": "Validated", "index": "Index built", "swap": "Swapped in"}
KB_STAGE_NEXT = {
    None: "Validating every file…",
    "validate": "Building the index…",
    "index": "Swapping in…",
    "swap": None,
}
_KB_LIST_MAX = 20
_KB_PROBLEM_BLOCKS = 20
_KB_SOURCE_BLOCKS = 40
_KB_USER_RE = re.compile(r"[UW][A-Z0-9]{2,}")


def _kb_who(by: str) -> str:
    """A Slack user id as a mention; anything else ("poll", "startup") literally."""
    return f"<@{by}>" if _KB_USER_RE.fullmatch(by) else escape(by)


def _kb_when(moment: dt.datetime | None) -> str:
    if moment is None:
        return "at an unknown time"
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _kb_version(version: str) -> str:
    return f"`{escape(version)}`" if version else "`(none)`"


def _kb_ids(label: str, ids: Sequence[str]) -> str | None:
    if not ids:
        return None
    shown = ", ".join(f"`{escape(i)}`" for i in ids[:_KB_LIST_MAX])
    more = f" …and {len(ids) - _KB_LIST_MAX} more" if len(ids) > _KB_LIST_MAX else ""
    return f"*{label} ({len(ids)}):* {shown}{more}"


def _kb_sections(lines: Sequence[str], max_blocks: int, overflow: str) -> list[Block]:
    """Pack escaped lines into sections; past ``max_blocks`` say how many were left out."""
    blocks: list[Block] = []
    current: list[str] = []
    size = 0
    limit = MAX_SECTION_TEXT - _SLACK_MARGIN
    for n, raw in enumerate(lines):
        line = _cut_rendered(raw, limit)
        if current and size + len(line) + 1 > limit:
            if len(blocks) + 1 >= max_blocks:
                blocks.append(_section("\n".join(current)))
                blocks.append(_context(overflow.format(n=len(lines) - n)))
                return blocks
            blocks.append(_section("\n".join(current)))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        blocks.append(_section("\n".join(current)))
    return blocks


def _kb_message(text: str, blocks: list[Block]) -> Message:
    return Message(text=_cut_rendered(text, MAX_FALLBACK_TEXT), blocks=blocks[:MAX_MESSAGE_BLOCKS])


def kb_usage_message(*, unknown: str | None = None) -> Message:
    blocks: list[Block] = []
    if unknown is not None:
        word = escape(_shorten(unknown, 40))
        blocks.append(_section(f"I don't know `/kb {word}`."))
    blocks.append(_section(KB_USAGE_TEXT, block_id="kb_usage"))
    return _kb_message("Knowledge-base commands: /kb status, sources, reload, add, help", blocks)


def kb_add_instructions_message() -> Message:
    return _kb_message(
        "Send me a .txt, .md or .html file in a DM to add it.",
        [_section(KB_ADD_TEXT, block_id="kb_add_help")],
    )


def kb_denied_message(action: str) -> Message:
    text = (
        f"Sorry — only knowledge-base admins can {escape(action)}. "
        "If the knowledge base needs a change, please ask one of them; "
        "`/kb status` and `/kb sources` are open to everyone."
    )
    return _kb_message(text, [_section(text, block_id="kb_denied")])


def kb_busy_message(serving: str) -> Message:
    text = (
        "Another reload is running right now, so this one did nothing. "
        f"Still serving kb_version {_kb_version(serving)}; try again in a moment."
    )
    return _kb_message(text, [_section(text, block_id="kb_busy")])


def kb_status_message(
    status: KBStatus,
    *,
    replica: str,
    directory_version: str | None,
    poll_seconds: float | None,
    add_blocked: str | None,
) -> Message:
    """``/kb status``. ``directory_version`` is what the directory holds now (``None``:
    unreadable); ``poll_seconds`` is the polling interval (``None`` or 0: off);
    ``add_blocked`` says why ``/kb add`` cannot write, if it cannot."""
    lines = [
        f"*Knowledge base:* serving kb_version {_kb_version(status.kb_version)} "
        f"on replica `{escape(replica)}`",
        f"• {status.articles} articles, {status.passages} passages",
    ]
    if status.skipped:
        first = escape(str(status.skipped[0]))
        lines.append(
            f"• Invalid articles left out: {len(status.skipped)} problem(s), first: {first}"
        )
    lines += [
        f"• Loaded {_kb_when(status.loaded_at)} by {_kb_who(status.loaded_by)} "
        f"in {status.load_seconds:.2f} s",
    ]
    if status.reloading:
        lines.append("• A reload is running now.")
    if status.last_attempt_refused and status.last_refusal is not None:
        refusal = status.last_refusal
        first = escape(str(refusal.problems[0])) if refusal.problems else "no details"
        lines.append(
            f"• Last reload: *refused* {_kb_when(refusal.at)} (by {_kb_who(refusal.by)}), "
            f"{len(refusal.problems)} problem(s), first: {first}"
        )
    elif status.last_reload is not None:
        r = status.last_reload
        lines.append(
            f"• Last reload: OK {_kb_when(r.finished_at)} by {_kb_who(r.by)}: "
            f"{_kb_version(r.old_version)} → {_kb_version(r.new_version)}, "
            f"+{len(r.added)} −{len(r.removed)} ~{len(r.changed)} articles, {r.seconds:.2f} s"
        )
    else:
        lines.append("• No reload since startup.")
    polling = f"polling every {poll_seconds:g} s" if poll_seconds else "polling is off"
    if directory_version is None:
        lines.append(f"• Directory: cannot be read right now ({polling}).")
    elif directory_version == status.kb_version:
        lines.append(f"• Directory: in sync ({polling}).")
    else:
        pickup = (
            f"picked up within {poll_seconds:g} s if valid, or run `/kb reload` now"
            if poll_seconds
            else "run `/kb reload` to load it"
        )
        lines.append(
            f"• Directory: now holds kb_version {_kb_version(directory_version)}, "
            f"not yet served ({pickup})."
        )
    where = "bundled with licensebot" if status.bundled else escape(str(status.kb_dir))
    lines.append(f"• Location: {where}")
    lines.append(
        f"• Adding articles: {escape(add_blocked)}" if add_blocked else "• Adding articles: enabled"
    )
    text = (
        f"Knowledge base {status.kb_version}: {status.articles} articles, "
        f"{status.passages} passages"
    )
    return _kb_message(text, [_section("\n".join(lines), block_id="kb_status")])


def kb_sources_message(
    articles: Sequence[Article], passage_counts: Mapping[str, int], *, kb_version: str
) -> Message:
    """``/kb sources``: one line per article, ``≈`` marking estimated dates."""
    header = (
        f"*{len(articles)} articles* in kb_version {_kb_version(kb_version)} "
        "(≈ marks an estimated date)"
    )
    lines: list[str] = []
    # Dated articles first, oldest first; then the undated ones by id.
    ordered = sorted(articles, key=lambda a: (a.meta.published or dt.date.max, a.doc_id))
    for article in ordered:
        meta = article.meta
        parts = [f"*{escape(meta.title)}*" if meta.title else "_untitled_"]
        parts.append(escape(meta.publisher) if meta.publisher else "publisher unknown")
        parts.append(meta.published_label or "undated")
        count = passage_counts.get(article.doc_id, 0)
        parts.append(f"{count} passage{'s' if count != 1 else ''}")
        derived = sorted(meta.derived & {"title", "publisher", "published"})
        note = f" _(derived: {', '.join(derived)})_" if derived else ""
        lines.append(f"• {' · '.join(parts)} `{escape(article.doc_id)}`{note}")
    blocks = [_section(header, block_id="kb_sources")]
    blocks.extend(
        _kb_sections(
            lines or ["_The knowledge base is empty._"],
            _KB_SOURCE_BLOCKS,
            "…and {n} more articles; `licensebot kb sources` lists them all.",
        )
    )
    return _kb_message(f"{len(articles)} articles in kb_version {kb_version}", blocks)


def kb_progress_message(title: str, stages: Sequence[ReloadStage]) -> Message:
    """A reload in progress: finished stages ticked off, the running one named, with how
    far it has come when it is long (``done`` of ``total``)."""
    lines = [f"*{escape(title)}*"]
    finished = [s for s in stages if s.finished]
    for stage in finished:
        lines.append(
            f"✓ {KB_STAGE_DONE[stage.name]}: {escape(stage.detail)} ({stage.seconds:.2f} s)"
        )
    upcoming = KB_STAGE_NEXT.get(finished[-1].name if finished else None)
    running = stages[-1] if stages and not stages[-1].finished else None
    if running is not None:
        lines.append(f"… {escape(running.detail)} {_kb_bar(running)}({running.seconds:.0f} s)")
    elif upcoming:
        lines.append(f"… {upcoming}")
    text = f"{title} {running.detail if running else upcoming or ''}".strip()
    return _kb_message(escape(text), [_section("\n".join(lines), block_id="kb_progress")])


def _kb_bar(stage: ReloadStage, width: int = 20) -> str:
    if not stage.total or stage.done is None:
        return ""
    filled = min(width, width * stage.done // stage.total)
    return f"`{'█' * filled}{'░' * (width - filled)}` {100 * stage.done // stage.total}% "


def _kb_diff_lines(result: ReloadResult) -> list[str]:
    lines = [
        f"kb_version {_kb_version(result.old_version)} → {_kb_version(result.new_version)} "
        f"in {result.seconds:.2f} s",
        f"Articles {result.articles_before} → {result.articles_after} · "
        f"passages {result.passages_before} → {result.passages_after}",
    ]
    changes = (("Added", result.added), ("Removed", result.removed), ("Changed", result.changed))
    for label, ids in changes:
        line = _kb_ids(label, ids)
        if line:
            lines.append(line)
    return lines


def kb_reload_message(result: ReloadResult) -> Message:
    """The reload diff: added, removed, changed articles, counts, versions, time."""
    if result.unchanged:
        title = "*Knowledge base reloaded — no changes.*"
        text = f"Knowledge base reloaded, no changes (kb_version {result.new_version})"
    else:
        title = "*Knowledge base reloaded.*"
        text = (
            f"Knowledge base reloaded: {result.old_version} → {result.new_version}, "
            f"+{len(result.added)} −{len(result.removed)} ~{len(result.changed)}"
        )
    body = "\n".join([title, *_kb_diff_lines(result)])
    blocks = [_section(body, block_id="kb_reloaded")]
    if result.skipped:
        count = len(result.skipped)
        blocks.append(
            _section(
                f"*Skipped {count} invalid article problem{'s' if count != 1 else ''}* "
                "(`skip-invalid`); the rest is served:",
                block_id="kb_skipped",
            )
        )
        blocks.extend(kb_problems_blocks(result.skipped))
        text += f"; {count} problem(s) skipped"
    return _kb_message(text, blocks)


def kb_problems_blocks(problems: Sequence[Problem]) -> list[Block]:
    lines = []
    for p in problems:
        where = f"{p.file}:{p.line}" if p.line is not None else p.file
        lines.append(f"• `{escape(where)}` {escape(p.reason)}")
    return _kb_sections(
        lines,
        _KB_PROBLEM_BLOCKS,
        "…and {n} more problems; `licensebot kb check` lists them all.",
    )


def kb_refused_message(problems: Sequence[Problem], *, serving: str) -> Message:
    """A refused reload: every problem, and that nothing changed."""
    head = (
        f"*Reload refused* — {len(problems)} problem{'s' if len(problems) != 1 else ''}; "
        f"nothing changed, still serving kb_version {_kb_version(serving)}."
    )
    blocks = [_section(head, block_id="kb_refused"), *kb_problems_blocks(problems)]
    first = f": {problems[0]}" if problems else ""
    return _kb_message(f"Reload refused, {len(problems)} problem(s){escape(first)}", blocks)


def kb_added_message(result: AddResult, *, passages: int) -> Message:
    """An article was added and is being served."""
    meta = result.article.meta
    about = [escape(meta.title) if meta.title else "untitled"]
    about.append(escape(meta.publisher) if meta.publisher else "publisher unknown")
    about.append(meta.published_label or "undated")
    lines = [
        f"*Added* `{escape(result.file_name)}` as `{escape(result.doc_id)}`: {' · '.join(about)}, "
        f"{passages} passage{'s' if passages != 1 else ''}.",
    ]
    if meta.derived:
        lines.append(f"Derived from the text: {', '.join(sorted(meta.derived))}.")
    missing = [n for n in ("title", "publisher", "published") if getattr(meta, n) is None]
    if missing:
        lines.append(f"Unknown (neither given nor in the text): {', '.join(missing)}.")
    lines.extend(_kb_diff_lines(result.reload))
    text = f"Added {result.file_name} as {result.doc_id}; now serving {result.reload.new_version}"
    return _kb_message(escape(text), [_section("\n".join(lines), block_id="kb_added")])


def kb_add_refused_message(
    file_name: str, reason: str, problems: Sequence[Problem], *, serving: str
) -> Message:
    """An upload that was not added; the directory is unchanged."""
    head = (
        f"*Not added:* `{escape(file_name)}` — {escape(reason)}. "
        f"Nothing was written; still serving kb_version {_kb_version(serving)}."
    )
    blocks = [_section(head, block_id="kb_add_refused"), *kb_problems_blocks(problems)]
    return _kb_message(f"Not added: {escape(file_name)} — {escape(reason)}", blocks)


# =========================================================================== /timeline (issue 4)
# The timeline of reported events: one compact block per event (date · sentence ·
# sources), paginated with "Show more", privately shown with "Post to channel".
# Owned by the timeline feature; the sections above are untouched by it.

ACTION_TIMELINE_MORE = "timeline_show_more"
ACTION_TIMELINE_POST = "timeline_post_to_channel"
# Every action id a timeline message can carry (besides "Full article", registered above).
TIMELINE_ACTION_IDS: frozenset[str] = frozenset({ACTION_TIMELINE_MORE, ACTION_TIMELINE_POST})

# Events per page, and the rendered characters a page may take: well under what Slack
# accepts in one message, so a page of long sentences is cut short, never refused.
TIMELINE_PAGE_EVENTS = 10
TIMELINE_PAGE_CHARS = 12_000
# A topic is carried in the buttons verbatim (a cut topic would select other events), so
# it is bounded up front: even fully JSON-escaped it leaves the button value room.
TIMELINE_TOPIC_MAX_CHARS = 300
# Room for the blocks around the events: header, two notes, "more", actions, footer.
_TIMELINE_FRAME_BLOCKS = 8
_TIMELINE_SOURCES_CHARS = 700
_TIMELINE_CONFLICT_CHARS = 700
_TIMELINE_FALLBACK_EVENTS = 5

TIMELINE_USAGE_TEXT = (
    "*Timeline* — the events the articles report, oldest first, each with its date, "
    "a verbatim sentence and every article that reports it.\n"
    "• `/timeline`: every event\n"
    "• `/timeline entity list` or `/timeline Ren`: only the events about a topic\n"
    "Dates marked ≈ are estimated; only you see the timeline until you post it."
)
TIMELINE_NO_TOPIC_HINT = "`/timeline` with no topic lists every event."


@dataclass(frozen=True)
class TimelineRef:
    """Which timeline page a button is about: "Show more" asks for the page at ``offset``,
    "Post to channel" shares the page that starts there."""

    topic: str | None
    offset: int
    kb_version: str
    request_id: str


def encode_timeline_ref(ref: TimelineRef) -> str:
    value = _dump({"t": ref.topic, "o": ref.offset, "v": ref.kb_version, "r": ref.request_id})
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError(f"timeline button value of {len(value)} characters is too long")
    return value


def decode_timeline_ref(value: str) -> TimelineRef:
    data = _load(value)
    topic = data.get("t")
    if topic is not None and not isinstance(topic, str):
        raise ValueError("button value field 't' is not a string or null")
    offset = _field(data, "o", int)
    if offset < 0:
        raise ValueError("button value field 'o' is negative")
    return TimelineRef(
        topic=topic,
        offset=offset,
        kb_version=_field(data, "v", str),
        request_id=_field(data, "r", str),
    )


def _timeline_source_name(source: TimelineSource) -> str:
    return _source_name(source.title, source.publisher, source.doc_id)


def timeline_date_line(event: TimelineEvent) -> str:
    """The event's date in bold, with how the text put it: ``*≈ week of 16 Sep 2019* · “last
    week”``. Escaped mrkdwn."""
    if event.date is None:
        said = f"“{escape(event.date_text)}”: " if event.date_text else ""
        return f"*undated* · _{said}the article gives no publication date to place it_"
    label = f"*{escape(event.date_label)}*"
    if event.basis == "lead":
        return f"{label} · _the article's lead: news of the week before it was published_"
    return f"{label} · _“{escape(event.date_text)}”_" if event.date_text else label


def timeline_conflict_line(event: TimelineEvent) -> str | None:
    """``⚠ sources disagree: …`` with every other date and who gives it, or None."""
    if not event.conflict or not event.alternatives:
        return None
    names = {s.doc_id: _timeline_source_name(s) for s in event.sources}
    elsewhere = {d for alt in event.alternatives for d in alt.doc_ids}
    own = [_timeline_source_name(s) for s in event.sources if s.doc_id not in elsewhere]
    parts: list[str] = []
    for alt in event.alternatives:
        who = ", ".join(dict.fromkeys(names.get(d, d) for d in alt.doc_ids))
        said = f" (“{alt.date_text}”)" if alt.date_text else ""
        parts.append(f"{alt.date.label}{said} according to {who}")
    said = f" (“{event.date_text}”)" if event.date_text else ""
    first = f"{event.date_label}{said} according to {', '.join(dict.fromkeys(own))}" if own else ""
    line = "; ".join([first, *parts] if first else parts)
    return _cut_rendered(f"⚠ *sources disagree:* {escape(line)}", _TIMELINE_CONFLICT_CHARS)


def timeline_sources_line(event: TimelineEvent) -> str:
    """``— title · publisher · date · also: …``: the event's sentence's article, then every
    other article reporting the event. Escaped mrkdwn, at most a few hundred characters."""
    first = event.sources[0]
    parts = [escape(first.title) if first.title else "untitled"]
    if first.publisher:
        parts.append(escape(first.publisher))
    published = first.published_label
    if published:
        parts.append(published)
    line = "— " + " · ".join(parts)
    others: list[str] = []
    for source in event.sources[1:]:
        name = _timeline_source_name(source)
        when = source.published_label
        label = escape(f"{name} ({when})" if when else name)
        if label not in others:
            others.append(label)
    if not others:
        return _cut_rendered(line, _TIMELINE_SOURCES_CHARS)
    budget = _TIMELINE_SOURCES_CHARS - len(line) - len(" · also: ") - len(", …and 999 more")
    shown: list[str] = []
    for label in others:
        if shown and sum(len(s) + 2 for s in shown) + len(label) > budget:
            break
        shown.append(label)
    also = ", ".join(shown)
    if len(shown) < len(others):
        also += f", …and {len(others) - len(shown)} more"
    return _cut_rendered(f"{line} · also: {also}", _TIMELINE_SOURCES_CHARS)


def timeline_event_block(event: TimelineEvent, index: int, kb_version: str) -> Block:
    """One event as one section: date line, the sentence quoted, the conflict, the sources;
    "Full article" opens the first source with the sentence marked."""
    head = timeline_date_line(event)
    tail = [line for line in (timeline_conflict_line(event), timeline_sources_line(event)) if line]
    room = MAX_SECTION_TEXT - _SLACK_MARGIN - len(head) - sum(len(t) + 1 for t in tail) - 1
    quote, cut = quote_mrkdwn(event.text, limit=max(200, room - 80))
    if cut:
        quote += "\n_Sentence shortened — *Full article* shows all of it._"
    first = event.sources[0]
    button = _button(
        "Full article",
        ACTION_FULL_ARTICLE,
        encode_article(
            ArticleRef(doc_id=first.doc_id, start=first.start, end=first.end, kb_version=kb_version)
        ),
    )
    return _section("\n".join([head, quote, *tail]), block_id=f"event_{index}", accessory=button)


def _timeline_page(timeline: Timeline, offset: int, page_events: int) -> tuple[list[Block], int]:
    """The event blocks from ``offset``: at most ``page_events`` and ``TIMELINE_PAGE_CHARS``
    rendered characters, never fewer than one; and the offset after them."""
    blocks: list[Block] = []
    size = 0
    end = offset
    for index in range(offset, len(timeline.events)):
        if len(blocks) >= page_events:
            break
        block = timeline_event_block(timeline.events[index], index, timeline.kb_version)
        cost = len(block["text"]["text"])
        if blocks and size + cost > TIMELINE_PAGE_CHARS:
            break
        blocks.append(block)
        size += cost
        end = index + 1
    return blocks, end


def timeline_page_span(
    timeline: Timeline, offset: int = 0, page_events: int = TIMELINE_PAGE_EVENTS
) -> tuple[int, int]:
    """The events ``[start, end)`` the page at ``offset`` shows (as ``timeline_message``)."""
    if not timeline.events:
        return 0, 0
    start = min(max(0, offset), len(timeline.events) - 1)
    return start, _timeline_page(timeline, start, _page_events(page_events))[1]


def _page_events(page_events: int) -> int:
    return max(1, min(page_events, MAX_MESSAGE_BLOCKS - _TIMELINE_FRAME_BLOCKS))


def _timeline_topic(topic: str | None) -> str:
    return f" about “{escape(_shorten(topic, _QUESTION_DISPLAY_CHARS))}”" if topic else ""


def _timeline_count(total: int, start: int, end: int) -> str:
    """ "16 events" when the page holds them all, else "events 11–16 of 16"."""
    if (start, end) == (0, total):
        return f"{total} event{'s' if total != 1 else ''}"
    return f"events {start + 1}–{end} of {total}"


def _timeline_fallback(timeline: Timeline, start: int, end: int) -> str:
    about = f" about “{_shorten(timeline.topic, 200)}”" if timeline.topic else ""
    if not timeline.events:
        text = f"Timeline{about}: {timeline.reason or 'no events.'}"
        return _cut_rendered(escape(text), MAX_FALLBACK_TEXT)
    lines = [f"Timeline{about}: {_timeline_count(len(timeline.events), start, end)}, oldest first"]
    for event in timeline.events[start : min(end, start + _TIMELINE_FALLBACK_EVENTS)]:
        sentence = _shorten(" ".join(event.text.split()), _FALLBACK_QUOTE_CHARS)
        source = _timeline_source_name(event.sources[0])
        more = f" +{len(event.sources) - 1}" if len(event.sources) > 1 else ""
        flag = " ⚠ dates disagree" if event.conflict else ""
        lines.append(f"{event.date_label}{flag}: “{sentence}” — {source}{more}")
    if end - start > _TIMELINE_FALLBACK_EVENTS:
        lines.append(f"…and {end - start - _TIMELINE_FALLBACK_EVENTS} more on this page")
    return _cut_rendered(escape("\n".join(lines)), MAX_FALLBACK_TEXT)


def timeline_message(
    timeline: Timeline,
    *,
    request_id: str,
    offset: int = 0,
    page_events: int = TIMELINE_PAGE_EVENTS,
    shareable: bool = False,
    asked_by: str | None = None,
    note: str | None = None,
    truncated: bool = False,
) -> Message:
    """One page of the timeline, events ``offset`` onwards, as a chat message.

    "Show more" (when events remain) carries the topic, the next offset and the
    kb_version; ``shareable`` adds "Post to channel" for this page (private copies);
    ``asked_by`` attributes a shared copy; ``note`` is shown above the events.
    """
    total = len(timeline.events)
    start = min(max(0, offset), max(0, total - 1))
    page_events = _page_events(page_events)
    about = _timeline_topic(timeline.topic)
    blocks: list[Block] = []
    notes: list[Block] = []
    if note:
        notes.append(_context(escape(note), block_id="timeline_note"))
    if truncated:
        notes.append(_context("Your topic was long, so only its beginning was used."))
    end = start
    if not timeline.events:
        blocks.append(_section(f"*Timeline{about}*", block_id="timeline_header"))
        blocks.extend(notes)
        lines = [escape(timeline.reason or "The articles report no events.")]
        if timeline.hint:
            lines.append(escape(timeline.hint))
        elif timeline.topic:
            lines.append(TIMELINE_NO_TOPIC_HINT)
        blocks.append(_section("\n".join(lines), block_id="timeline_empty"))
    else:
        events, end = _timeline_page(timeline, start, page_events)
        count = _timeline_count(total, start, end)
        head = f"*Timeline{about}* — {count}, oldest first · ≈ marks an estimated date"
        blocks.append(_section(head, block_id="timeline_header"))
        blocks.extend(notes)
        if timeline.unmatched_terms:
            terms = ", ".join(escape(t) for t in timeline.unmatched_terms)
            blocks.append(_context(f"Not found in any article: {terms}"))
        blocks.extend(events)
        if end < total:
            blocks.append(
                _context(
                    f"{total - end} more event{'s' if total - end != 1 else ''}: *Show more*.",
                    block_id="timeline_more",
                )
            )
    elements: list[Block] = []
    if end < total:
        ref = TimelineRef(timeline.topic, end, timeline.kb_version, request_id)
        elements.append(_button("Show more", ACTION_TIMELINE_MORE, encode_timeline_ref(ref)))
    if shareable and timeline.events:
        ref = TimelineRef(timeline.topic, start, timeline.kb_version, request_id)
        elements.append(
            _button(
                "Post to channel", ACTION_TIMELINE_POST, encode_timeline_ref(ref), style="primary"
            )
        )
    if elements:
        blocks.append({"type": "actions", "block_id": "timeline_actions", "elements": elements})
    footer: list[str] = []
    if asked_by is not None:
        # A user id from Slack's signed payload, so a real mention, not untrusted text.
        footer.append(f"Shared by <@{asked_by}> with /timeline")
    footer.append(f"kb {escape(timeline.kb_version[:8])} · ref {escape(request_id)}")
    blocks.append(_context(" · ".join(footer), block_id="timeline_footer"))
    return Message(
        text=_timeline_fallback(timeline, start, end), blocks=blocks[:MAX_MESSAGE_BLOCKS]
    )


def timeline_usage_message() -> Message:
    return Message(
        text=escape("Timeline: /timeline for every event, /timeline TOPIC for one topic"),
        blocks=[_section(TIMELINE_USAGE_TEXT, block_id="timeline_usage")],
    )
