"""The plain-text evaluation report: figures per split and kind, then every failure."""

from __future__ import annotations

from collections.abc import Sequence

from knowledge.evaluation.evalset import EvalReport, norm_space
from knowledge.models import Answer


def _ratio(n: int, total: int) -> str:
    return f"{n / total if total else 0.0:.3f} ({n}/{total})"


def _row(label: str, report: EvalReport) -> str:
    k = report.k
    n = len(report.questions)
    refusals = len(report.refusals)
    refused = refusals - len(report.false_answers)
    return (
        f"  {label:<6} hit@1 {_ratio(report.hits(1), n):<15} "
        f"hit@{k} {_ratio(report.hits(k), n):<15} "
        f"must-refuse refused {refused}/{refusals:<4} "
        f"answerable refused {len(report.refused_answerable)}/{n}"
    )


def _kind_lines(report: EvalReport) -> list[str]:
    k = report.k
    lines = [
        f"    {kind:<17} {total:>3} questions    hit@1 {h1:>3}  hit@{k} {hk:>3}"
        for kind, (total, h1, hk) in report.by_kind().items()
    ]
    lines += [
        f"    {kind:<17} {total:>3} must-refuse  refused {refused:>3}"
        for kind, (total, refused) in report.refusals_by_kind().items()
    ]
    return lines


def _failure_lines(label: str, report: EvalReport) -> list[str]:
    k = report.k
    lines: list[str] = []
    if report.misses:
        lines.append(f"misses at {k}, {label} ({len(report.misses)}):")
        for r in report.misses:
            lines.append(f"  Q: {r.question.text}")
            lines.append(
                f"     [{r.question.kind}] expected {', '.join(r.question.docs)} containing "
                + " | ".join(repr(p) for p in r.question.must_contain)
            )
            lines.extend(_describe(r.answer, k))
    if report.false_answers:
        lines.append(f"answered but should be refused, {label} ({len(report.false_answers)}):")
        for rr in report.false_answers:
            why = f"  [{rr.question.kind}: {rr.question.why}]" if rr.question.why else ""
            lines.append(f"  Q: {rr.question.text}{why}")
            lines.extend(_describe(rr.answer, k))
    return lines


def format_report(
    report: EvalReport, *, header: Sequence[str] = (), field: EvalReport | None = None
) -> str:
    """Totals, one line per split (and the field sample), the kinds of each, the
    question-set problems, then every miss and false answer with what came back."""
    k = report.k
    n = len(report.questions)
    lines = list(header)
    lines.append(f"hit@1: {_ratio(report.hits(1), n)}")
    lines.append(f"hit@{k}: {_ratio(report.hits(k), n)}")
    lines.append(f"must-refuse answered: {len(report.false_answers)}/{len(report.refusals)}")
    lines.append(f"answerable refused: {len(report.refused_answerable)}/{n}")
    parts = [(split, report.select(split)) for split in report.splits()]
    if field is not None:
        parts.append(("field", field))
    lines.extend(_row(label, part) for label, part in parts)
    for label, part in parts:
        lines.append(f"  kinds, {label}:")
        lines.extend(_kind_lines(part))
    if report.problems:
        lines.append(f"question-set problems ({len(report.problems)}):")
        lines.extend(f"  - {p}" for p in report.problems)
    if field is not None and field.problems:
        lines.append(f"field-sample key problems ({len(field.problems)}):")
        lines.extend(f"  - {p}" for p in field.problems)
    for label, part in parts:
        lines.extend(_failure_lines(label, part))
    return "\n".join(lines)


def _describe(answer: Answer, k: int) -> list[str]:
    if not answer.answered:
        return [f"     refused: {answer.reason}"]
    out = []
    for rank, q in enumerate(answer.quotes[:k], start=1):
        also = (
            f" (+{', '.join(s.doc_id for s in q.also_reported_by)})" if q.also_reported_by else ""
        )
        out.append(f"     {rank}. [{q.passage_id}]{also} {norm_space(q.text)}")
    return out
