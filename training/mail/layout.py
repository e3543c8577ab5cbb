"""What every HTML email shares beyond its layout template: the style that lets a long value
(a meeting link, an organization's name) break to fit a phone, and staff's own words as HTML."""

import re

from flask import Flask
from markupsafe import Markup, escape

# Inline, since mail programs drop style sheets. A value with no space in it (an 80-character
# meeting link, an organization's name) breaks anywhere rather than widen the email past a
# phone's 375 px: ``overflow-wrap:anywhere`` where supported, ``word-break:break-word`` for
# older WebKit and Outlook on the web. Both count in a table's narrowest width, unlike
# ``overflow-wrap:break-word`` alone.
BREAK_LONG_VALUES = "overflow-wrap:anywhere;word-break:break-word;"
PARAGRAPH_STYLE = "margin:0 0 16px;" + BREAK_LONG_VALUES

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")


def staff_paragraphs(text: str, label: str = "") -> Markup:
    """Text staff typed in a box of several lines (a message, a reason) as HTML paragraphs:
    escaped first, a blank line starting a new ``<p>``, any other line break a ``<br>``, as the
    plain-text part shows them. ``label`` ("Why:") opens the first paragraph in bold."""
    text = _LINE_BREAK.sub("\n", text).strip("\n")
    paragraphs = [part for part in _BLANK_LINES.split(text) if part.strip()] or [""]
    html = []
    for index, paragraph in enumerate(paragraphs):
        lines = Markup("<br>").join(escape(line) for line in paragraph.split("\n"))
        lead = Markup("<strong>%s</strong> ") % label if label and index == 0 else ""
        html.append(Markup('<p style="%s">%s%s</p>') % (PARAGRAPH_STYLE, lead, lines))
    return Markup("\n").join(html)


def init_app(app: Flask) -> None:
    """Give the email templates the breaking style and the ``staff_paragraphs`` filter."""
    app.add_template_global(BREAK_LONG_VALUES, "break_long_values")
    app.add_template_filter(staff_paragraphs, "staff_paragraphs")
