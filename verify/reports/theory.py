"""THEORY.md as a page of the claims report (``theory.html``): the spec rendered from
markdown with markdown-it-py (CommonMark; raw HTML in the source is escaped, never passed
through), with an anchor on every claim heading (``#head.exact``) and on each condition's
definition (``#C-HEAD``, ``#C-PROMPT-mu``), so claim and case pages link to the section
they were checked against."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

from verify.core import theory


def _parser() -> MarkdownIt:
    # html=False: a "<" in the spec is text; linkify off (nothing is fetched or guessed)
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def render_theory(source: str | None = None) -> Markup:
    """The spec's markdown as HTML (safe to insert: every text node is escaped by the
    renderer), with claim and condition anchors (see :func:`verify.core.theory.anchor`)."""
    md = _parser()
    tokens = md.parse(theory.text() if source is None else source)
    claims = set(theory.claim_headings(source))
    conditions = set(theory.condition_ids(source))
    placed: set[str] = set()
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.tag == "h3":
            words = (tokens[i + 1].content or "").split(" ")
            if words and words[0] in claims and words[0] not in placed:
                tok.attrSet("id", theory.anchor(words[0]))
                placed.add(words[0])
        if tok.type != "inline" or not tok.children:
            continue
        kids = tok.children
        for j in range(len(kids) - 2):
            name = kids[j + 1].content
            if kids[j].type == "strong_open" and name in conditions and name not in placed:
                kids[j].attrSet("id", theory.anchor(name))
                placed.add(name)
    return Markup(md.renderer.render(tokens, md.options, {}))


__all__ = ["render_theory"]
