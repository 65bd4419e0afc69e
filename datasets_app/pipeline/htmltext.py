"""HTML to plain text with the stdlib parser: text is kept, markup never is.

Guarantees: no tag, comment or attribute survives; script/style/head-like content is
dropped entirely; entities are unescaped; block elements become line breaks. Nothing is
executed or fetched (html.parser only tokenizes).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

# Content of these elements is not text a person reads.
# (Not <head>: unclosed heads are common and would swallow the whole body.)
_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "math", "iframe", "object"})
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul", "title",
    }
)  # fmt: skip
_CELLS = frozenset({"td", "th"})
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "wbr", "area", "base", "col"})
_HTML_MARKUP = re.compile(
    r"<!--|<!doctype\s|</?(?:a|abbr|b|blockquote|body|br|center|code|dd|div|dl|dt|em|font|"
    r"footer|h[1-6]|head|header|hr|html|i|img|li|link|meta|ol|p|pre|script|section|small|span|"
    r"strong|style|sub|sup|table|tbody|td|th|thead|title|tr|u|ul)(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)
_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
_SPACES = re.compile(r"[^\S\n]+")
_SPACE_BEFORE_NEWLINE = re.compile(r" +\n")
_MANY_NEWLINES = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0
        self._pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED and tag not in _VOID:
            self._skip_depth += 1
        elif tag == "pre":
            self._pre_depth += 1
        self._break_for(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break_for(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED and self._skip_depth:
            self._skip_depth -= 1
        elif tag == "pre" and self._pre_depth:
            self._pre_depth -= 1
        self._break_for(tag)

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre_depth:
            self.parts.append(data)
            return
        # Outside <pre>, source line breaks and runs of spaces are not meaningful in HTML.
        data = _SPACES.sub(" ", data.replace("\n", " "))
        if not self.parts or self.parts[-1].endswith("\n"):
            data = data.lstrip(" ")
        if data:
            self.parts.append(data)

    def _break_for(self, tag: str) -> None:
        if self._skip_depth:
            return
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p":
            self.parts.append("\n\n")
        elif tag in _BLOCKS:
            self.parts.append("\n")
        elif tag in _CELLS and self.parts and not self.parts[-1].endswith(("\n", " ")):
            self.parts.append(" ")


def html_to_text(markup: str) -> str:
    """Returns the readable text of an HTML document or fragment (see module guarantees)."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    text = _SPACE_BEFORE_NEWLINE.sub("\n", text)
    return _MANY_NEWLINES.sub("\n\n", text).strip()


def looks_like_html(text: str) -> bool:
    """True when the text contains common HTML tags, a comment or a doctype."""
    return _HTML_MARKUP.search(text) is not None


def strip_html(text: str) -> str:
    """Converts text that looks like HTML; otherwise only unescapes entities such as ``&amp;``.

    Plain text with a stray ``<`` (e.g. ``a < b``) is left alone.
    """
    if looks_like_html(text):
        return html_to_text(text)
    if _ENTITY.search(text):
        return html.unescape(text)
    return text
