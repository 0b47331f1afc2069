"""The ASGI application: PartnerStack, Stripe and admin routes over one shared ``State``.

Why: kept apart from the server so it can be mounted in-process (``httpx.ASGITransport``) or served
by uvicorn; the rate-limit and fault middlewares wrap everything and skip the admin routes themselves.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount

from .admin_api import AdminRoutes
from .fault_middleware import FaultMiddleware
from .http_util import json_response
from .partnerstack_api import PartnerStackRoutes
from .ratelimit import RateLimitMiddleware, RateLimits
from .state import State
from .stripe_api import StripeRoutes


async def _not_found(request: Request, exc: Exception) -> Response:
    return json_response(404, {"message": "Not Found", "status": 404})


def create_app(state: State, rate_limits: RateLimits | None = None) -> Starlette:
    """A Starlette app serving ``state``.

    ``rate_limits`` replaces the state's limits (``State(rate_limits=...)``, off by default). The rate
    limiter is the outermost layer: a refused request never reaches the fault plan or a handler.
    """
    if rate_limits is not None:
        state.set_rate_limits(rate_limits)
    return Starlette(
        routes=[
            Mount("/partnerstack/api/v2", routes=PartnerStackRoutes(state).routes()),
            Mount("/stripe", routes=StripeRoutes(state).routes()),
            Mount("/_sandbox", routes=AdminRoutes(state).routes()),
        ],
        middleware=[Middleware(RateLimitMiddleware, state=state), Middleware(FaultMiddleware, state=state)],
        exception_handlers={404: _not_found},
    )
