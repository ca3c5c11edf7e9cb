"""The explorer as a small Starlette app: the page, what it shows, and its images.

Routes:

- ``GET /``: the page (``page.html``, plain HTML and JavaScript);
- ``GET /api/info``: the model, the seeds, the modes and the sliders with their ranges and figures (JSON);
- ``GET /api/image?seed=S&mode=relative&NAME=VALUE...``: the image as PNG;
- ``GET /api/factors?seed=S``: where the seed sits along each slider (JSON), the values absolute mode starts from.

A request the explorer cannot answer gets ``{"error": "..."}`` with status 400 (malformed, out of range) or 404
(an unknown direction); a generator that fails gets status 500 with its one-line error, and the server keeps
serving. Images are rendered in Starlette's thread pool (the event loop never waits on torch), one at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from importlib import resources

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from latentnav.directions import Direction
from latentnav.explore.explorer import Explorer, RequestError
from latentnav.generators.base import first_line

log = logging.getLogger("latentnav.explore")
#: answers that must never come from a cache (a slider's image changes with every value)
NO_STORE = {"Cache-Control": "no-store"}


def make_app(G, directions: Mapping[str, Direction], *, public: bool = False) -> Starlette:
    """The explorer's app for ``G`` and its labelled ``directions`` (see :class:`~latentnav.explore.explorer.Explorer`).

    Args:
        G: the generator.
        directions: label -> direction (one slider each, in this order), all made for ``G`` in one latent space.
        public: whether it is served beyond this machine: the page then says it has no authentication.

    Returns:
        A Starlette app; ``app.state.explorer`` is its :class:`~latentnav.explore.explorer.Explorer`.
    """
    explorer = Explorer(G, directions, public=public)
    page = resources.files("latentnav.explore").joinpath("page.html").read_text(encoding="utf-8")

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers=NO_STORE)

    async def info(request: Request) -> Response:
        return JSONResponse(explorer.info(), headers=NO_STORE)

    async def image(request: Request) -> Response:
        pairs = request.query_params.multi_items()
        return await _answer(lambda: Response(explorer.png(pairs), media_type="image/png", headers=NO_STORE))

    async def factors(request: Request) -> Response:
        pairs = request.query_params.multi_items()
        return await _answer(lambda: JSONResponse(explorer.factors(pairs), headers=NO_STORE))

    routes = [Route("/", index), Route("/api/info", info), Route("/api/image", image), Route("/api/factors", factors)]
    app = Starlette(routes=routes)
    app.state.explorer = explorer
    return app


async def _answer(work: Callable[[], Response]) -> Response:
    """``work()`` in the thread pool; a request error as JSON with its status, anything else as a 500."""
    try:
        return await run_in_threadpool(work)
    except RequestError as err:
        return JSONResponse({"error": str(err)}, status_code=err.status, headers=NO_STORE)
    except Exception as err:  # whatever the generator raises: the page shows it, the server goes on
        log.exception("rendering failed")
        message = f"the generator failed: {type(err).__name__}: {first_line(err)}"[:500]
        return JSONResponse({"error": message}, status_code=500, headers=NO_STORE)
