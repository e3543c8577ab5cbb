"""Markdown written by staff, rendered safely: raw HTML in the source is shown as text."""

from functools import cache

from markdown_it import MarkdownIt
from markupsafe import Markup


@cache
def _renderer() -> MarkdownIt:
    # CommonMark with raw HTML switched off: a <script> typed by staff is escaped, not run.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str) -> Markup:
    """HTML for ``text``; safe to put in a page as it is."""
    return Markup(_renderer().render(text))  # noqa: S704 (markdown-it escapes all input HTML)
