"""One shape for every paginated list: a Page of rows, read by the pagination() macro
(templates/macros/pagination.html)."""
from __future__ import annotations

from flask import url_for

from .parsing import page_number


class Page:
    """One page of a list: its rows, where it sits among the pages, and the link to any other page.

    The attributes are those of Flask-SQLAlchemy's Pagination (items, total, per_page, page, pages,
    has_prev, has_next, prev_num, next_num), so a template reads both alike.
    """

    def __init__(self, items, total: int, page: int, per_page: int, endpoint: str, args: dict):
        self.items = list(items)
        self.total = total
        self.page = page
        self.per_page = per_page
        self.pages = max(1, -(-total // per_page))
        self.endpoint = endpoint
        # The list's search, filters and sort as the view read them; empty ones make no noise in the URL.
        self.args = {key: value for key, value in args.items() if value not in (None, "")}

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None

    def url(self, page: int) -> str:
        """The link to another page of the same list, with the same search, filters and sort."""
        return url_for(self.endpoint, page=page, **self.args)


def paged(fetch, endpoint: str, *, per_page: int | None = None, **args) -> Page:
    """Return the requested page (page_number()) of a list; a page past the end gives the last page.

    fetch(page) returns either (rows, total), `per_page` rows a page, or a Flask-SQLAlchemy
    Pagination. The links to other pages go to `endpoint` with `args` (URL values such as site_id,
    then the list's search, filters and sort).
    """
    number = page_number()
    items, total, per_page = _read(fetch(number), per_page)
    last = max(1, -(-total // per_page))
    if number > last:
        number = last
        items, total, per_page = _read(fetch(number), per_page)
    return Page(items, total, number, per_page, endpoint, args)


def _read(result, per_page):
    if isinstance(result, tuple):
        rows, total = result
        return rows, total, per_page
    return result.items, result.total, result.per_page
