"""Pages of long lists, read alike everywhere: the page an address asks for, and the page shown.

A page number comes from links and edited addresses (a bookmark, a number typed over), never
from a field anyone sees, so no page number is an error: a page past the last (``?page=37`` of
36, or digits no number column could hold) shows the last page, and zero, a negative number,
blank or text shows the first. The findings of an upload, the possible duplicates, the signup
search and the audit log all read pages here.
"""

from flask import request
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select

from training.extensions import MAX_ID, db


def page_number(text: str | None) -> int:
    """The page ``text`` asks for, from 1 to ``MAX_ID`` (past any list's last page)."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()):
        return 1
    if len(text) > len(str(MAX_ID)):
        return MAX_ID
    return min(max(int(text), 1), MAX_ID)


def query_page(name: str = "page") -> int:
    """The page the query string's ``name`` asks for (see ``page_number``)."""
    return page_number(request.args.get(name))


def page_shown(page: int, *, total: int, per_page: int) -> tuple[int, int]:
    """The page shown when ``page`` is asked for, and how many pages (at least 1) there are."""
    pages = max(-(-total // per_page), 1)
    return min(max(page, 1), pages), pages


def paginate(statement: Select, *, page: int, per_page: int) -> Pagination:
    """Flask-SQLAlchemy's page of ``statement``, the last page when ``page`` is past it."""
    results = db.paginate(statement, page=max(page, 1), per_page=per_page, error_out=False)
    if results.page > 1 and not results.items and results.total:
        last = page_shown(results.page, total=results.total, per_page=per_page)[0]
        results = db.paginate(statement, page=last, per_page=per_page, error_out=False)
    return results
