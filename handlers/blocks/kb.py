"""Knowledge-base administration replies: status, sources, reload progress and diff,
refusals with every problem, uploads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from handlers.blocks.kit import (
    MAX_FALLBACK_TEXT,
    MAX_MESSAGE_BLOCKS,
    MAX_SECTION_TEXT,
    SLACK_MARGIN,
    Block,
    Message,
    context_block,
    cut_rendered,
    is_user_id,
    section_block,
    shorten,
)
from handlers.blocks.literal import escape, literal_label
from knowledge.models import Article, Problem
from knowledge.service import KBStatus, ReloadResult, ReloadStage
from knowledge.store.admin import AddResult

KB_USAGE_TEXT = (
    "*Knowledge-base commands*\n"
    "• `/kb status`: the version this replica serves, counts, the last load and reload\n"
    "• `/kb sources`: the articles, with publisher, date and passage count\n"
    "• `/kb reload` (admins): re-read the knowledge-base directory and swap it in; any "
    "invalid article refuses it and the old version keeps serving\n"
    "• `/kb reload skip-invalid` (admins): the same, serving the valid articles and listing "
    "the invalid ones it left out\n"
    "• `/kb add` (admins): how to add an article by sending me a file\n"
    "• `/kb gaps [days]` (admins): refused and not-helpful questions of the last days "
    "(default 7), grouped by the words nothing matched\n"
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


def _kb_who(by: str) -> str:
    """A Slack user id as a mention; anything else ("poll", "startup") literally."""
    return f"<@{by}>" if is_user_id(by) else escape(by)


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
    limit = MAX_SECTION_TEXT - SLACK_MARGIN
    for n, raw in enumerate(lines):
        line = cut_rendered(raw, limit)
        if current and size + len(line) + 1 > limit:
            if len(blocks) + 1 >= max_blocks:
                blocks.append(section_block("\n".join(current)))
                blocks.append(context_block(overflow.format(n=len(lines) - n)))
                return blocks
            blocks.append(section_block("\n".join(current)))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        blocks.append(section_block("\n".join(current)))
    return blocks


def _kb_message(text: str, blocks: list[Block]) -> Message:
    return Message(text=cut_rendered(text, MAX_FALLBACK_TEXT), blocks=blocks[:MAX_MESSAGE_BLOCKS])


def kb_usage_message(*, unknown: str | None = None) -> Message:
    blocks: list[Block] = []
    if unknown is not None:
        word = escape(shorten(unknown, 40))
        blocks.append(section_block(f"I don't know `/kb {word}`."))
    blocks.append(section_block(KB_USAGE_TEXT, block_id="kb_usage"))
    return _kb_message("Knowledge-base commands: /kb status, sources, reload, add, help", blocks)


def kb_add_instructions_message() -> Message:
    return _kb_message(
        "Send me a .txt, .md or .html file in a DM to add it.",
        [section_block(KB_ADD_TEXT, block_id="kb_add_help")],
    )


def kb_denied_message(action: str) -> Message:
    text = (
        f"Sorry — only knowledge-base admins can {escape(action)}. "
        "If the knowledge base needs a change, please ask one of them; "
        "`/kb status` and `/kb sources` are open to everyone."
    )
    return _kb_message(text, [section_block(text, block_id="kb_denied")])


def kb_busy_message(serving: str) -> Message:
    text = (
        "Another reload is running right now, so this one did nothing. "
        f"Still serving kb_version {_kb_version(serving)}; try again in a moment."
    )
    return _kb_message(text, [section_block(text, block_id="kb_busy")])


def kb_status_message(
    status: KBStatus,
    *,
    replica: str,
    directory_version: str | None,
    poll_seconds: float | None,
    add_blocked: str | None,
    server_details: bool = True,
) -> Message:
    """``/kb status``. ``directory_version`` is what the directory holds now (``None``:
    unreadable); ``poll_seconds`` is the polling interval (``None`` or 0: off);
    ``add_blocked`` says why ``/kb add`` cannot write, if it cannot. Without
    ``server_details`` the replica, the directory's location and ``add_blocked`` (which
    names the directory) are left out."""
    on_replica = f" on replica `{escape(replica)}`" if server_details else ""
    lines = [
        f"*Knowledge base:* serving kb_version {_kb_version(status.kb_version)}{on_replica}",
        f"• {status.articles} articles, {status.passages} passages",
    ]
    if status.skipped:
        first = escape(str(status.skipped[0]))
        lines.append(
            f"• Invalid articles left out: {len(status.skipped)} problem(s), first: {first}"
        )
    lines.append(
        f"• Loaded {_kb_when(status.loaded_at)} by {_kb_who(status.loaded_by)} "
        f"in {status.load_seconds:.2f} s"
    )
    if status.reloading:
        lines.append("• A reload is running now.")
    if status.last_attempt_refused and status.last_refusal is not None:
        refusal = status.last_refusal
        first = escape(str(refusal.problems[0])) if refusal.problems else "no details"
        # A problem's reason can quote an OS error, and with it a path.
        shown = f", first: {first}" if server_details else ""
        lines.append(
            f"• Last reload: *refused* {_kb_when(refusal.at)} (by {_kb_who(refusal.by)}), "
            f"{len(refusal.problems)} problem(s){shown}"
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
    if server_details:
        where = "bundled with licensebot" if status.bundled else escape(str(status.kb_dir))
        lines.append(f"• Location: {where}")
        lines.append(
            f"• Adding articles: {escape(add_blocked)}"
            if add_blocked
            else "• Adding articles: enabled"
        )
    text = (
        f"Knowledge base {status.kb_version}: {status.articles} articles, "
        f"{status.passages} passages"
    )
    return _kb_message(text, [section_block("\n".join(lines), block_id="kb_status")])


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
        parts = [f"*{literal_label(meta.title)}*" if meta.title else "_untitled_"]
        parts.append(literal_label(meta.publisher) if meta.publisher else "publisher unknown")
        parts.append(meta.published_label or "undated")
        count = passage_counts.get(article.doc_id, 0)
        parts.append(f"{count} passage{'s' if count != 1 else ''}")
        derived = sorted(meta.derived & {"title", "publisher", "published"})
        note = f" _(derived: {', '.join(derived)})_" if derived else ""
        lines.append(f"• {' · '.join(parts)} `{escape(article.doc_id)}`{note}")
    blocks = [section_block(header, block_id="kb_sources")]
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
    return _kb_message(escape(text), [section_block("\n".join(lines), block_id="kb_progress")])


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
    blocks = [section_block(body, block_id="kb_reloaded")]
    if result.skipped:
        count = len(result.skipped)
        blocks.append(
            section_block(
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
        lines.append(f"• `{escape(p.location)}` {escape(p.reason)}")
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
    blocks = [section_block(head, block_id="kb_refused"), *kb_problems_blocks(problems)]
    first = f": {problems[0]}" if problems else ""
    return _kb_message(f"Reload refused, {len(problems)} problem(s){escape(first)}", blocks)


def kb_added_message(result: AddResult, *, passages: int) -> Message:
    """An article was added and is being served."""
    meta = result.article.meta
    about = [literal_label(meta.title) if meta.title else "untitled"]
    about.append(literal_label(meta.publisher) if meta.publisher else "publisher unknown")
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
    return _kb_message(escape(text), [section_block("\n".join(lines), block_id="kb_added")])


def kb_add_refused_message(
    file_name: str, reason: str, problems: Sequence[Problem], *, serving: str
) -> Message:
    """An upload that was not added; the directory is unchanged."""
    head = (
        f"*Not added:* `{escape(file_name)}` — {escape(reason)}. "
        f"Nothing was written; still serving kb_version {_kb_version(serving)}."
    )
    blocks = [section_block(head, block_id="kb_add_refused"), *kb_problems_blocks(problems)]
    return _kb_message(f"Not added: {escape(file_name)} — {escape(reason)}", blocks)
