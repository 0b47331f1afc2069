"""The PartnerStack vendor API v2 under ``/partnerstack/api/v2/``.

Why: the connector pulls partnerships, customers, leads, deals... and pushes rewards through this API.
Shapes follow PartnerStack's documentation: success ``{"data": ..., "message": ..., "status": 200}``,
lists ``data = {"items": [...], "has_more": bool}`` newest first, ``limit`` in [1, 250] (default 10),
``starting_after`` / ``ending_before`` as item keys, time filters in epoch ms; errors
``{"message": ..., "status": 4xx}``.

``POST /rewards`` takes the documented body only (``rewards.py``) and ignores any ``Idempotency-Key``
header, as PartnerStack documents none: a repeated POST creates a second reward.
``POST /deals/{key}/convert`` turns a deal into a customer. Rewards filter ``customer_key`` on the
nested customer (its ``key`` or ``external_key``), ``invoice_key`` on the nested invoice.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .collection import CursorNotFound, Filter, Range
from .http_util import json_bytes, json_response, parse_int
from .jsonutil import dumps_bytes, loads
from .normalize_partnerstack import TYPES
from .rewards import RewardError
from .state import State

MAX_LIMIT = 250

# Query parameter -> path of the field it filters on (plain equality).
_EQ_FILTERS: dict[str, tuple[str, ...]] = {
    "partner_key": ("partner_key",),
    "partnership_key": ("partnership_key",),
    "customer_key": ("customer_key",),
    "external_key": ("external_key",),
    "invoice_key": ("invoice_key",),
    "status": ("status",),
    "payment_status": ("payment_status",),
    "email": ("email",),
}


def ps_error(status: int, message: str) -> Response:
    """PartnerStack's error envelope."""
    return json_response(status, {"message": message, "status": status})


def _auth_error(request: Request, state: State) -> Response | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return ps_error(401, "Unauthorized: use HTTP Basic auth with your public key and secret key")
    try:
        public, sep, secret = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ps_error(401, "Unauthorized: malformed Basic credentials")
    if not sep or not public or not secret:
        return ps_error(401, "Unauthorized: public key and secret key are both required")
    if state.partnerstack_keys is not None and (public, secret) != tuple(state.partnerstack_keys):
        return ps_error(401, "Unauthorized: invalid API keys")
    return None


def _nested_key_filter(field: str, *attrs: str) -> Callable[[str], Filter]:
    """A filter on a reward's nested object (``customer``, ``invoice``), by any of its key attributes."""
    def make(value: str) -> Filter:
        return Filter((field,), lambda v: isinstance(v, dict) and any(v.get(a) == value for a in attrs))
    return make


# Reward filters that read the listed (nested) shape.
_REWARD_FILTERS: dict[str, Callable[[str], Filter]] = {
    "customer_key": _nested_key_filter("customer", "key", "external_key"),
    "invoice_key": _nested_key_filter("invoice", "key"),
}


def _filters(request: Request, reward: bool = False) -> tuple[Range | None, list[Filter]]:
    query = request.query_params
    ints: dict[str, int | None] = {}
    for name in ("min_created", "max_created", "min_updated", "max_updated"):
        try:
            ints[name] = parse_int(query.get(name))
        except ValueError as exc:
            raise ValueError(f"{name} must be an integer epoch timestamp in milliseconds") from exc
    created = Range(gte=ints["min_created"], lte=ints["max_created"])
    filters: list[Filter] = []
    low, high = ints["min_updated"], ints["max_updated"]
    if low is not None or high is not None:
        filters.append(Filter(("updated_at",), lambda v: _within(v, low, high)))
    for name, path in _EQ_FILTERS.items():
        if name in query and not (reward and name in _REWARD_FILTERS):
            filters.append(Filter.equals(path, query[name]))
    if reward:
        filters += [_REWARD_FILTERS[name](query[name]) for name in _REWARD_FILTERS if name in query]
    group = query.get("group_key") or query.get("group")
    if group:
        filters.append(Filter((), lambda obj: _group_key(obj) == group))
    description = query.get("description")
    if description:
        filters.append(Filter(("description",), lambda v: isinstance(v, str) and description in v))
    return created, filters


def _within(value: Any, low: int | None, high: int | None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def _group_key(obj: Any) -> Any:
    group = obj.get("group") if isinstance(obj, dict) else None
    if isinstance(group, dict):
        return group.get("key")
    return obj.get("group_key") if isinstance(obj, dict) else None


class PartnerStackRoutes:
    """Route handlers bound to one ``State``."""

    def __init__(self, state: State) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """Starlette routes, relative to ``/partnerstack/api/v2``."""
        return [
            Route("/{resource}", self.collection, methods=["GET", "POST"]),
            Route("/{resource}/{key}", self.retrieve, methods=["GET"]),
            Route("/deals/{key}/convert", self.convert_deal, methods=["POST"]),
            Route("/{path:path}", self.unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]

    async def unknown(self, request: Request) -> Response:
        """An endpoint the sandbox does not emulate."""
        return _auth_error(request, self.state) or ps_error(404, "Not Found")

    async def collection(self, request: Request) -> Response:
        """``GET`` a list page, or ``POST /rewards``."""
        error = _auth_error(request, self.state)
        if error is not None:
            return error
        resource = request.path_params["resource"]
        if resource not in TYPES:
            return ps_error(404, "Not Found")
        if request.method == "POST":
            if resource != "rewards":
                return ps_error(405, "Method Not Allowed")
            return await self._create_reward(request)
        try:
            return self._list(request, resource)
        except ValueError as exc:
            return ps_error(400, str(exc))

    def _list(self, request: Request, resource: str) -> Response:
        query = request.query_params
        try:
            limit = parse_int(query.get("limit"))
        except ValueError as exc:
            raise ValueError(f"limit must be an integer between 1 and {MAX_LIMIT}") from exc
        limit = 10 if limit is None else limit
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be an integer between 1 and {MAX_LIMIT}")
        after, before = query.get("starting_after") or None, query.get("ending_before") or None
        if after is not None and before is not None:
            raise ValueError("starting_after and ending_before are mutually exclusive")
        created, filters = _filters(request, reward=resource == "rewards")
        name = f"partnerstack.{resource}"
        with self.state.lock:
            collection = self.state.partnerstack[resource]
            if name in self.state.repeat_cursor:
                after = before = None
            try:
                page = collection.page(limit, after, before, created, filters)
            except CursorNotFound as exc:
                raise ValueError(f"no {resource} item with key {exc.args[0]!r} for starting_after/ending_before") \
                    from exc
            if name in self.state.endless and not page.has_more:
                page = collection.last_page(limit)
            parts = [entry.served() for entry in page.entries]
        body = ('{"data":{"has_more":' + ("true" if page.has_more else "false") + ',"items":['
                + ",".join(parts) + ']},"message":"Page returned successfully","status":200}')
        return json_bytes(200, body.encode("ascii"))

    async def retrieve(self, request: Request) -> Response:
        """``GET /<resource>/<key>``."""
        error = _auth_error(request, self.state)
        if error is not None:
            return error
        resource, key = request.path_params["resource"], request.path_params["key"]
        if resource not in TYPES:
            return ps_error(404, "Not Found")
        with self.state.lock:
            collection = self.state.partnerstack[resource]
            found = collection.get(key)
            if found is None and resource == "customers":
                found = collection.first_where(("customer_key",), key)
            if found is None:
                return ps_error(404, f"{resource[:-1].capitalize()} not found")
            found = self.state.partnerstack_view(found)
            return json_response(200, {"data": found, "message": "Object returned successfully", "status": 200})

    async def _create_reward(self, request: Request) -> Response:
        body, error = await _json_body(request)
        if error is not None:
            return error
        try:
            reward = self.state.create_reward(body)
        except RewardError as exc:
            return ps_error(400, str(exc))
        return json_bytes(200, dumps_bytes({"data": reward, "message": "Reward created successfully", "status": 200}))

    async def convert_deal(self, request: Request) -> Response:
        """``POST /deals/{key}/convert``: the deal becomes a customer."""
        error = _auth_error(request, self.state)
        if error is not None:
            return error
        body, error = await _json_body(request)
        if error is not None:
            return error
        key = request.path_params["key"]
        with self.state.lock:
            if self.state.partnerstack["deals"].get(key) is None:
                return ps_error(404, "Deal not found")
            try:
                customer = self.state.convert_deal(key, body)
            except RewardError as exc:
                return ps_error(400, str(exc))
        return json_response(200, {"data": customer, "message": "Deal converted successfully", "status": 200})


async def _json_body(request: Request) -> tuple[Any, Response | None]:
    raw = await request.body()
    try:
        return (loads(raw) if raw else None), None
    except ValueError:
        return None, ps_error(400, "request body is not valid JSON")
