"""The Stripe API under ``/stripe/v1/``: lists, retrieves, invoice/credit-note lines.

Why: the connector reads Stripe through its REST API (via httpx or the official SDK); the sandbox
answers with Stripe's envelopes, paging rules, parameter validation, auth and error shapes so an
adapter that works here works against Stripe. Unknown query parameters get Stripe's 400, which catches
adapters sending filters Stripe does not have.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import STRIPE_API_VERSION, STRIPE_MIN_API_VERSION
from .collection import CursorNotFound, Entry, Filter, Range
from .expandable import ExpandError, expand_typed
from .http_util import json_bytes, json_response, parse_int
from .jsonutil import dumps
from .normalize_stripe import TYPES
from .render import EMBEDDED_LIMIT, render_item
from .state import State
from .stripe_params import as_list, parse_query

_COMMON = frozenset({"limit", "starting_after", "ending_before", "created", "expand"})
_request_ids = itertools.count(1)

FilterBuilder = Callable[[Any], list[Filter]]


class ParamError(ValueError):
    """A query parameter Stripe would reject (400)."""

    def __init__(self, message: str, param: str, code: str = "parameter_invalid") -> None:
        super().__init__(message)
        self.param = param
        self.code = code


# ----- filters ------------------------------------------------------------------------------------
def _eq(path: tuple[str, ...]) -> FilterBuilder:
    return lambda value: [Filter.equals(path, str(value))]


def _bool(path: tuple[str, ...]) -> FilterBuilder:
    def build(value: Any) -> list[Filter]:
        if str(value) not in ("true", "false"):
            raise ParamError(f"Invalid boolean: {value}", path[0])
        return [Filter.equals(path, str(value) == "true")]
    return build


def _invoice_subscription(value: Any) -> list[Filter]:
    wanted = str(value)

    def test_obj(obj: Any) -> bool:
        parent = obj.get("parent") if isinstance(obj, dict) else None
        details = parent.get("subscription_details") if isinstance(parent, dict) else None
        nested = details.get("subscription") if isinstance(details, dict) else None
        return obj.get("subscription") == wanted or nested == wanted

    return [Filter((), test_obj)]


def _subscription_status(value: Any) -> list[Filter]:
    wanted = str(value)
    if wanted == "all":
        return []
    if wanted == "ended":
        return [Filter(("status",), lambda v: v in ("canceled", "incomplete_expired"))]
    return [Filter.equals(("status",), wanted)]


def _subscription_price(value: Any) -> list[Filter]:
    wanted = str(value)

    def test_obj(obj: Any) -> bool:
        items = obj.get("items") if isinstance(obj, dict) else None
        data = items.get("data") if isinstance(items, dict) else None
        for item in data if isinstance(data, list) else []:
            price = item.get("price") if isinstance(item, dict) else None
            price_id = price.get("id") if isinstance(price, dict) else price
            if price_id == wanted:
                return True
        return False

    return [Filter((), test_obj)]


def _event_type(value: Any) -> list[Filter]:
    wanted = str(value)
    if wanted.endswith("*"):
        prefix = wanted[:-1]
        return [Filter(("type",), lambda v: isinstance(v, str) and v.startswith(prefix))]
    return [Filter.equals(("type",), wanted)]


def _event_types(value: Any) -> list[Filter]:
    wanted = set(as_list(value))
    return [Filter(("type",), lambda v: v in wanted)]


def _invoice_payment_payment(value: Any) -> list[Filter]:
    if not isinstance(value, dict):
        raise ParamError("Invalid hash", "payment")
    return [Filter.equals(("payment", str(key)), str(item)) for key, item in value.items()]


def _ids(value: Any) -> list[Filter]:
    wanted = set(as_list(value))
    return [Filter(("id",), lambda v: v in wanted)]


FILTERS: dict[str, dict[str, FilterBuilder]] = {
    "customers": {"email": _eq(("email",))},
    "products": {"active": _bool(("active",)), "shippable": _bool(("shippable",)), "url": _eq(("url",)),
                 "ids": _ids},
    "prices": {"active": _bool(("active",)), "currency": _eq(("currency",)), "product": _eq(("product",)),
               "type": _eq(("type",)), "lookup_keys": lambda v: [Filter(("lookup_key",), lambda x: x in as_list(v))]},
    "subscriptions": {"customer": _eq(("customer",)), "status": _subscription_status, "price": _subscription_price,
                      "collection_method": _eq(("collection_method",))},
    "invoices": {"customer": _eq(("customer",)), "status": _eq(("status",)), "subscription": _invoice_subscription,
                 "collection_method": _eq(("collection_method",))},
    "credit_notes": {"customer": _eq(("customer",)), "invoice": _eq(("invoice",))},
    "refunds": {"charge": _eq(("charge",)), "payment_intent": _eq(("payment_intent",))},
    "disputes": {"charge": _eq(("charge",)), "payment_intent": _eq(("payment_intent",))},
    "invoice_payments": {"invoice": _eq(("invoice",)), "status": _eq(("status",)),
                         "payment": _invoice_payment_payment},
    "charges": {"customer": _eq(("customer",)), "payment_intent": _eq(("payment_intent",))},
    "events": {"type": _event_type, "types": _event_types},
}
# Parameters Stripe documents for these lists that the sandbox accepts but does not apply.
ACCEPTED: dict[str, frozenset[str]] = {
    "customers": frozenset({"test_clock"}),
    "prices": frozenset({"recurring"}),
    "subscriptions": frozenset({"current_period_end", "current_period_start", "test_clock", "automatic_tax",
                                "customer_account"}),
    "invoices": frozenset({"due_date", "customer_account"}),
    "credit_notes": frozenset({"customer_account"}),
    "charges": frozenset({"transfer_group"}),
    "events": frozenset({"delivery_success"}),
}


# ----- responses ----------------------------------------------------------------------------------
def _headers(request: Request) -> dict[str, str]:
    version = request.headers.get("stripe-version") or STRIPE_API_VERSION
    return {"Stripe-Version": version, "Request-Id": f"req_sbx_{next(_request_ids):012d}"}


def stripe_error(request: Request, status: int, message: str, kind: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None) -> Response:
    """Stripe's error envelope."""
    error: dict[str, Any] = {"message": message, "type": kind}
    if code:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        error["param"] = param
    return json_response(status, {"error": error}, _headers(request))


def _auth_error(request: Request, state: State) -> Response | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    key = ""
    if scheme.lower() == "bearer":
        key = value.strip()
    elif scheme.lower() == "basic":
        try:
            key = base64.b64decode(value.strip()).decode("utf-8", "replace").partition(":")[0]
        except ValueError:
            key = ""
    if not key:
        return stripe_error(request, 401, "You did not provide an API key. You need to provide your API key in "
                            "the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                            "YOUR_SECRET_KEY').")
    valid = key == state.stripe_key if state.stripe_key else key.startswith(("sk_test_", "rk_test_"))
    if not valid:
        shown = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:] if len(key) > 12 else "****"
        return stripe_error(request, 401, f"Invalid API Key provided: {shown}", code="api_key_invalid")
    version = request.headers.get("stripe-version")
    if version is not None:
        date = version[:10]
        if len(date) != 10 or date[4] != "-" or date[7] != "-" or not date.replace("-", "").isdigit():
            return stripe_error(request, 400, f"Invalid Stripe API version: {version}", param="Stripe-Version")
        if date < STRIPE_MIN_API_VERSION:
            return stripe_error(request, 400, f"The sandbox serves Stripe objects in the {STRIPE_API_VERSION} shape "
                                f"(basil or later); Stripe-Version {version} is too old.", param="Stripe-Version")
    return None


# ----- parameter parsing --------------------------------------------------------------------------
def _limit(params: dict[str, Any]) -> int:
    limit = _int_param(params.get("limit"), "limit")
    if limit is None:
        return 10
    if not 1 <= limit <= 100:
        raise ParamError("This value must be between 1 and 100 (inclusive).", "limit")
    return limit


def _int_param(value: Any, name: str) -> int | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return parse_int(value)
    except ValueError as exc:
        raise ParamError(f"Invalid integer: {value}", name) from exc


def _created(params: dict[str, Any]) -> Range | None:
    raw = params.get("created")
    if raw is None:
        return None
    if isinstance(raw, dict):
        unknown = set(raw) - {"gt", "gte", "lt", "lte"}
        if unknown:
            raise ParamError(f"Received unknown parameter: created[{sorted(unknown)[0]}]", "created",
                             "parameter_unknown")
        return Range(**{op: _int_param(raw.get(op), f"created[{op}]") for op in ("gte", "gt", "lte", "lt")})
    exact = _int_param(raw, "created")
    return Range(gte=exact, lte=exact)


def _cursors(params: dict[str, Any]) -> tuple[str | None, str | None]:
    after, before = params.get("starting_after"), params.get("ending_before")
    if after is not None and before is not None:
        raise ParamError("You may only specify one of these parameters: ending_before, starting_after.",
                         "starting_after")
    for name, value in (("starting_after", after), ("ending_before", before)):
        if value is not None and not isinstance(value, str):
            raise ParamError(f"Invalid string: {value}", name)
    return after or None, before or None


# ----- the routes ---------------------------------------------------------------------------------
class StripeRoutes:
    """Route handlers bound to one ``State``."""

    def __init__(self, state: State) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """Starlette routes, relative to ``/stripe``."""
        return [
            Route("/v1/subscription_items", self.subscription_items, methods=["GET"]),
            Route("/v1/{resource}", self.list_page, methods=["GET"]),
            Route("/v1/{resource}/{ident}", self.retrieve, methods=["GET"]),
            Route("/v1/{resource}/{ident}/lines", self.lines, methods=["GET"]),
            Route("/{path:path}", self.unknown, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        ]

    def _resolve_price(self, ident: str) -> dict[str, Any] | None:
        return self.state.resolve_price(ident)

    def _resolve_any(self, ident: str) -> dict[str, Any] | None:
        found = self.state.find_stripe(ident)
        if found is None:
            return None
        rendered = self.state.render_stripe(found[0], found[1])
        return rendered if isinstance(rendered, dict) else None

    def _include(self, type_name: str, obj: dict[str, Any], field: str) -> Any:
        """An includable list (sent only when expanded): an invoice's ``payments``."""
        if type_name != "invoice" or field != "payments" or not isinstance(obj.get("id"), str):
            return None
        invoice_id = obj["id"]
        stored = self.state.stripe["invoices"].get(invoice_id)
        given = stored.get("payments") if isinstance(stored, dict) else None
        if isinstance(given, dict) and isinstance(given.get("data"), list):
            records: list[Any] = given["data"]
        elif isinstance(given, list):
            records = given
        else:
            page = self.state.stripe["invoice_payments"].page(EMBEDDED_LIMIT, filters=[
                Filter.equals(("invoice",), invoice_id)])
            records = [entry.obj for entry in page.entries]
            return {"object": "list", "data": [self.state.render_stripe("invoice_payment", r) for r in records],
                    "has_more": page.has_more, "url": f"/v1/invoice_payments?invoice={invoice_id}"}
        return {"object": "list",
                "data": [self.state.render_stripe("invoice_payment", r) for r in records[:EMBEDDED_LIMIT]],
                "has_more": len(records) > EMBEDDED_LIMIT, "url": f"/v1/invoice_payments?invoice={invoice_id}"}

    def _expand(self, document: Any, type_name: str, paths: list[str]) -> Any:
        """``document`` with ``paths`` expanded; ``ParamError`` (Stripe's 400) for a path Stripe refuses."""
        if not paths:
            return document
        try:
            return expand_typed(document, type_name, paths, self._resolve_any, self._include)
        except ExpandError as exc:
            raise ParamError(exc.message, "expand", "") from exc

    async def unknown(self, request: Request) -> Response:
        """Stripe's answer to a URL it does not know."""
        error = _auth_error(request, self.state)
        if error is not None:
            return error
        return stripe_error(request, 404, f"Unrecognized request URL ({request.method}: {request.url.path}). "
                            "Please see https://stripe.com/docs or we can help at https://support.stripe.com/.")

    async def list_page(self, request: Request) -> Response:
        """``GET /v1/<resource>``: a page, newest first."""
        error = _auth_error(request, self.state)
        if error is not None:
            return error
        resource = request.path_params["resource"]
        if resource not in TYPES:
            return await self.unknown(request)
        params = parse_query(request.query_params.multi_items())
        try:
            return self._list(request, resource, params)
        except ParamError as exc:
            return stripe_error(request, 400, str(exc), code=exc.code, param=exc.param)

    def _list(self, request: Request, resource: str, params: dict[str, Any]) -> Response:
        known = FILTERS.get(resource, {})
        for name in params:
            if name not in _COMMON and name not in known and name not in ACCEPTED.get(resource, frozenset()):
                raise ParamError(f"Received unknown parameter: {name}", name, "parameter_unknown")
        limit = _limit(params)
        created = _created(params)
        after, before = _cursors(params)
        if "ids" in known and "ids" in params and (after or before):  # Stripe: ids cannot page
            raise ParamError("ids cannot be used with starting_after or ending_before.", "ids")
        filters: list[Filter] = []
        for name, builder in known.items():
            if name in params:
                filters += builder(params[name])
        if resource == "subscriptions" and "status" not in params:
            filters.append(Filter(("status",), lambda v: v != "canceled"))
        if resource == "events":
            cutoff = self.state.event_cutoff()
            base = created or Range()
            created = Range(gte=max(cutoff, base.gte) if base.gte is not None else cutoff,
                            gt=base.gt, lte=base.lte, lt=base.lt)
        type_name = TYPES[resource]
        name = f"stripe.{resource}"
        paths = as_list(params.get("expand"))
        with self.state.lock:
            collection = self.state.stripe[resource]
            if name in self.state.repeat_cursor:
                after = before = None
            try:
                page = collection.page(limit, after, before, created, filters)
            except CursorNotFound as exc:
                raise ParamError(f"No such {type_name}: '{exc.args[0]}'", "starting_after" if after else
                                 "ending_before", "resource_missing") from exc
            if name in self.state.endless and not page.has_more:
                page = collection.last_page(limit)
            url = f"/v1/{resource}"
            if paths:
                return self._expanded_list(request, type_name, page.entries, page.has_more, url, paths)
            data = "[" + ",".join(e.served() for e in page.entries) + "]"
        body = ('{"object":"list","data":' + data + ',"has_more":'
                + ("true" if page.has_more else "false") + ',"url":' + dumps(url) + "}")
        return json_bytes(200, body.encode("ascii"), _headers(request))

    def _expanded_list(self, request: Request, type_name: str, entries: list[Entry], has_more: bool, url: str,
                       paths: list[str]) -> Response:
        document: dict[str, Any] = {
            "object": "list",
            "data": [self.state.render_stripe(type_name, e.obj) for e in entries],
            "has_more": has_more,
            "url": url,
        }
        document = self._expand(document, f"list:{type_name}", paths)
        return json_response(200, document, _headers(request))

    async def retrieve(self, request: Request) -> Response:
        """``GET /v1/<resource>/<id>``."""
        error = _auth_error(request, self.state)
        if error is not None:
            return error
        resource, ident = request.path_params["resource"], request.path_params["ident"]
        if resource not in TYPES:
            return await self.unknown(request)
        type_name = TYPES[resource]
        params = parse_query(request.query_params.multi_items())
        for name in params:
            if name != "expand":
                return stripe_error(request, 400, f"Received unknown parameter: {name}", code="parameter_unknown",
                                    param=name)
        with self.state.lock:
            found = self.state.stripe[resource].get(ident)
            too_old = (resource == "events" and isinstance(found, dict)
                       and isinstance(found.get("created"), int) and found["created"] < self.state.event_cutoff())
            if found is None or too_old:
                return stripe_error(request, 404, f"No such {type_name}: '{ident}'", code="resource_missing",
                                    param="id")
            document = self.state.render_stripe(type_name, found)
            try:
                document = self._expand(document, type_name, as_list(params.get("expand")))
            except ParamError as exc:
                return stripe_error(request, 400, str(exc), param=exc.param)
        return json_response(200, document, _headers(request))

    async def lines(self, request: Request) -> Response:
        """``GET /v1/invoices/<id>/lines`` (and credit notes): every line, paged in the given order."""
        error = _auth_error(request, self.state)
        if error is not None:
            return error
        resource, ident = request.path_params["resource"], request.path_params["ident"]
        item_type = {"invoices": "line_item", "credit_notes": "credit_note_line_item"}.get(resource)
        if item_type is None:
            return await self.unknown(request)
        params = parse_query(request.query_params.multi_items())
        try:
            for name in params:
                if name not in ("limit", "starting_after", "ending_before", "expand"):
                    raise ParamError(f"Received unknown parameter: {name}", name, "parameter_unknown")
            limit = _limit(params)
            after, before = _cursors(params)
            with self.state.lock:
                owner = self.state.stripe[resource].get(ident)
                if not isinstance(owner, dict):
                    return stripe_error(request, 404, f"No such {TYPES[resource]}: '{ident}'",
                                        code="resource_missing", param="id")
                lines = owner.get("lines")
                data = lines.get("data") if isinstance(lines, dict) else None
                page = _ordered_page(data if isinstance(data, list) else [], limit, after, before)
            url = f"/v1/{resource}/{ident}/lines"
            document: dict[str, Any] = {
                "object": "list",
                "data": [render_item(item_type, x, self._resolve_price) for x in page[0]],
                "has_more": page[1],
                "url": url,
            }
            document = self._expand(document, f"list:{item_type}", as_list(params.get("expand")))
        except ParamError as exc:
            return stripe_error(request, 400, str(exc), code=exc.code, param=exc.param)
        return json_response(200, document, _headers(request))

    async def subscription_items(self, request: Request) -> Response:
        """``GET /v1/subscription_items?subscription=sub_…``: a subscription's items, in its own order.

        Stripe requires ``subscription``; items page in the order the subscription embeds them (so a
        client can continue ``starting_after`` the last embedded one) and embed their price.
        """
        error = _auth_error(request, self.state)
        if error is not None:
            return error
        params = parse_query(request.query_params.multi_items())
        try:
            for name in params:
                if name not in ("subscription", "limit", "starting_after", "ending_before", "expand"):
                    raise ParamError(f"Received unknown parameter: {name}", name, "parameter_unknown")
            ident = params.get("subscription")
            if ident is None or ident == "":
                raise ParamError("Missing required param: subscription.", "subscription", "parameter_missing")
            if not isinstance(ident, str):
                raise ParamError(f"Invalid string: {ident}", "subscription")
            limit = _limit(params)
            after, before = _cursors(params)
            with self.state.lock:
                owner = self.state.stripe["subscriptions"].get(ident)
                if not isinstance(owner, dict):
                    raise ParamError(f"No such subscription: '{ident}'", "subscription", "resource_missing")
                items = owner.get("items")
                data = items.get("data") if isinstance(items, dict) else None
                page = _ordered_page(data if isinstance(data, list) else [], limit, after, before,
                                     "subscription item")
                document: dict[str, Any] = {
                    "object": "list",
                    "data": [render_item("subscription_item", x, self._resolve_price) for x in page[0]],
                    "has_more": page[1],
                    "url": "/v1/subscription_items",
                }
                document = self._expand(document, "list:subscription_item", as_list(params.get("expand")))
        except ParamError as exc:
            return stripe_error(request, 400, str(exc), code=exc.code, param=exc.param)
        return json_response(200, document, _headers(request))


def _ordered_page(items: list[Any], limit: int, after: str | None, before: str | None,
                  noun: str = "line item") -> tuple[list[Any], bool]:
    """A page of a list kept in its own order (invoice lines are not sorted by time)."""
    def index_of(ident: str, param: str) -> int:
        for position in range(len(items) - 1, -1, -1):
            item = items[position]
            if isinstance(item, dict) and item.get("id") == ident:
                return position
        raise ParamError(f"No such {noun}: '{ident}'", param, "resource_missing")

    if before is not None:
        end = index_of(before, "ending_before")
        start = max(0, end - limit)
        return items[start:end], start > 0
    start = 0 if after is None else index_of(after, "starting_after") + 1
    chunk = items[start:start + limit]
    return chunk, start + limit < len(items)
