"""Cursor paging modelled on dlt's paginators (`init_request`, `update_state`,
`update_request`, `has_next_page`), with a loop guard and a page cap.

Both PartnerStack and Stripe page with `starting_after=<id of the last item>` and a
`has_more` flag; only where the items and the flag sit in the body differs (`extract`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from adapters.http.client import HttpClient, RequestCounter
from adapters.http.errors import CursorRejected, RecordNotFound, UpstreamError

Extract = Callable[[Any], tuple[list[dict[str, Any]], bool]]


class Page(list[dict[str, Any]]):
    """One page of items, and whether its body was clean JSON (`json_text_is_clean`).

    A list, so every caller that only iterates it is unaffected; the writer reads `clean` to
    skip re-checking each stored payload of a page that cannot need it.
    """

    __slots__ = ("clean",)

    def __init__(self, items: Iterable[dict[str, Any]] = (), clean: bool = False) -> None:
        super().__init__(items)
        self.clean = clean


class CursorPaginator:
    """Next page starts after the last item's id; a repeated cursor means the API loops.

    `backwards` pages toward newer items with `ending_before=<id of the first item>`: each
    page holds the items just newer than the cursor (still newest first within the page).
    """

    def __init__(self, *, id_field: str = "id", cursor_param: str | None = None, backwards: bool = False) -> None:
        self.id_field = id_field
        self.backwards = backwards
        self.cursor_param = cursor_param or ("ending_before" if backwards else "starting_after")
        self.next_cursor: str | None = None
        self._has_next = True
        self._seen: set[str] = set()

    def init_request(self, params: dict[str, Any]) -> None:
        start = params.get(self.cursor_param)
        if start is not None:
            self._seen.add(str(start))

    def update_state(self, items: list[dict[str, Any]], has_more: bool) -> None:
        if not has_more or not items:
            self._has_next = False
            self.next_cursor = None
            return
        edge = items[0] if self.backwards else items[-1]
        cursor = edge.get(self.id_field) if isinstance(edge, dict) else None
        if cursor is None:
            which = "first" if self.backwards else "last"
            raise UpstreamError(f"page's {which} item has no {self.id_field!r}: cannot page on")
        cursor = str(cursor)
        if cursor in self._seen:
            raise UpstreamError(f"pagination loop: cursor {cursor!r} returned twice")
        self._seen.add(cursor)
        self.next_cursor = cursor

    def update_request(self, params: dict[str, Any]) -> None:
        params[self.cursor_param] = self.next_cursor

    @property
    def has_next_page(self) -> bool:
        return self._has_next


def paginate(
    http: HttpClient,
    path: str,
    params: dict[str, Any],
    *,
    extract: Extract,
    paginator: CursorPaginator,
    counter: RequestCounter | None = None,
) -> Iterator[Page]:
    """Yield pages of items until the API says there are no more (or the page cap trips)."""
    params = {k: v for k, v in params.items() if v is not None}
    paginator.init_request(params)
    pages = 0
    while paginator.has_next_page:
        if pages >= http.settings.max_pages_per_stream:
            raise UpstreamError(f"{http.api_name} {path}: page cap {http.settings.max_pages_per_stream} reached")
        try:
            body, clean = http.get_json_checked(path, params=params, counter=counter)
        except (RecordNotFound, UpstreamError) as exc:
            cursor = params.get(paginator.cursor_param)
            if cursor is not None and exc.status_code in (400, 404):
                rejected = f"{exc} (cursor {paginator.cursor_param}={cursor})"
                raise CursorRejected(rejected, response=exc.response) from None
            if isinstance(exc, RecordNotFound):
                raise UpstreamError(str(exc), response=exc.response) from None
            raise
        items, has_more = extract(body)
        pages += 1
        paginator.update_state(items, has_more)
        yield Page(items, clean)
        if paginator.has_next_page:
            paginator.update_request(params)
