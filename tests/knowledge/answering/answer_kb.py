"""A small made-up knowledge base for the answer engine's mechanisms (not the bundled one)."""

from __future__ import annotations

from pathlib import Path

ARTICLES = {
    "alpha": (
        "Acme Widgets acquired Brightline Systems in March 2018 for 400 million dollars. "
        "The purchase doubles the patents Acme holds.\n\n"
        "Dana Reyes, chief executive of Acme, said the deal closed in Zurich.\n\n"
        "The company expects its licensing revenue to grow strongly next year.\n\n"
        "Reyes said the firm will license the patents to carmakers in Europe.\n"
    ),
    "beta": (
        "Orbit Telecom opened its modem patents to every handset maker.\n\n"
        "Orbit sells a cup holder to the world market, where it competes with Acme.\n\n"
        "Regulators welcomed the royalty rate Orbit set for its modem patents.\n"
    ),
    "gamma": (
        "Zenith Foods licensed its Loaf 9 bread recipes to franchisees.\n\n"
        "The franchise fee will be waived for bakeries that open early.\n"
    ),
}
MANIFEST = """
[articles.alpha]
title = "Acme buys Brightline"

[articles.beta]
title = "Orbit opens its modem patents"

[articles.gamma]
title = "Zenith licenses bread recipes"
"""


def make_answer_kb(root: Path, synonyms: list[str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for doc_id, text in ARTICLES.items():
        (root / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    manifest = MANIFEST
    if synonyms is not None:
        rules = ", ".join(f'"{r}"' for r in synonyms)
        manifest += f"\n[synonyms]\nrules = [{rules}]\n"
    (root / "manifest.toml").write_text(manifest, encoding="utf-8")
    return root
