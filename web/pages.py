"""The HTML pages (login, then one page per kind of work), served with their static assets; the
pages talk to the JSON API and the websocket, so they need no build step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm.users.models import Role
from web import errors
from web.auth import COOKIE, Caller, authenticate
from web.catalogues import negotiate
from web.errors import OpenApiAnswers
from web.page_text import translate
from web.queue_names import queue_names
from web.redirects import safe_next
from web.services import Services, services

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)
# Pages are HTML, or a redirect to the login page, or a "no access" page for a role the page
# is not for (naming the roles it is for and who grants them: an administrator).
REDIRECTED: OpenApiAnswers = {
    303: {"description": "not logged in"},
    403: {"description": "not this role's page: the roles it is for, and who grants them"},
}

HOME = {
    Role.AGENT: "/console",
    Role.SUPERVISOR: "/wallboard",  # the floor at a glance, and the actions on it
    Role.QA: "/qa",
    Role.ADMIN: "/admin",
    Role.DEPARTMENT: "/complaints",
}
PAGE_ROLES = {
    "console": (Role.AGENT, Role.SUPERVISOR, Role.QA, Role.ADMIN),
    "admin": (Role.ADMIN,),
    "qa": (Role.QA, Role.SUPERVISOR, Role.AGENT),
    "campaigns": (Role.SUPERVISOR, Role.ADMIN),
    "wallboard": (Role.SUPERVISOR, Role.ADMIN),
    "reports": (Role.SUPERVISOR, Role.ADMIN, Role.QA),
    "complaints": (Role.AGENT, Role.SUPERVISOR, Role.DEPARTMENT, Role.ADMIN),
}


async def _caller(request: Request, svc: Services) -> Caller | None:
    return await authenticate(svc, cookie=request.cookies.get(COOKIE), bearer=None)


def _lang(request: Request) -> str:
    """The reader's language: chosen on a page (the cookie; `?lang=` for a link), else the
    browser's (Accept-Language), else Chinese."""
    chosen = request.cookies.get("cc_lang") or request.query_params.get("lang")
    return negotiate(chosen, request.headers.get("accept-language"))


def _render(
    request: Request, page: str, caller: Caller | None, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    lang = _lang(request)
    user = caller.user.model_dump(mode="json") if caller else None

    def text(key: str, args: dict[str, Any] | None = None) -> str:
        return translate(lang, key, args)

    boot = {
        "lang": lang,
        "page": page,
        "user": user,
        "queues": queue_names(request.app.state.settings),
    }
    context = {
        "boot": boot,  # what the page's scripts start from (the JSON block in base.html)
        "request": request,
        "lang": lang,
        "t": text,  # the first paint's text, the same words the page's scripts put there
        "page": page,
        "user": user,
        "csrf_token": caller.csrf_token if caller else "",
        **extra,
    }
    return templates.TemplateResponse(request, f"{page}.html", context, status_code=status_code)


@router.get("/", response_class=RedirectResponse, responses=REDIRECTED)
async def home(request: Request, svc: Services = Depends(services)) -> Response:
    caller = await _caller(request, svc)
    return RedirectResponse(HOME[caller.role] if caller else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, svc: Services = Depends(services)) -> Response:
    """The login form; `next` (where to go afterwards) is honoured only as a path on this site."""
    next_path = safe_next(request.query_params.get("next"))
    return _render(request, "login", await _caller(request, svc), next_path=next_path)


async def _page(request: Request, svc: Services, page: str) -> Response:
    caller = await _caller(request, svc)
    if caller is None:
        return RedirectResponse(f"/login?next=/{page}", status_code=303)
    if caller.role not in PAGE_ROLES[page]:
        return _no_access(request, caller, page)
    return _render(request, page, caller)


def _no_access(request: Request, caller: Caller, page: str) -> HTMLResponse:
    """403, in words: which page, the roles it is for, the caller's role, and that an
    administrator grants roles; with a way back to the caller's own home page."""
    return _render(
        request,
        "forbidden",
        caller,
        status_code=403,
        wanted=page,
        allowed=[role.value for role in PAGE_ROLES[page]],
        home=HOME[caller.role],
    )


def _page_route(page: str) -> Callable[..., Awaitable[Response]]:
    async def show(request: Request, svc: Services = Depends(services)) -> Response:
        return await _page(request, svc, page)

    show.__name__ = f"{page}_page"
    return show


# One route per page, for the roles PAGE_ROLES names (a department user's home: complaints).
for _page_name in PAGE_ROLES:
    router.add_api_route(
        f"/{_page_name}",
        _page_route(_page_name),
        methods=["GET"],
        response_class=HTMLResponse,
        responses=REDIRECTED,
    )


# --- error pages: a person who follows a wrong link reads why, in their language ----------

ERROR_PAGES = (404, 405, 500)  # the others read as the generic one


def _wants_page(request: Request) -> bool:
    """A browser navigating (it asks for HTML), not the API's clients (they read problems)."""
    path = request.url.path
    return "text/html" in request.headers.get("accept", "") and not path.startswith("/api/")


def _error_page(request: Request, status: int) -> HTMLResponse:
    kind = str(status) if status in ERROR_PAGES else "other"
    return _render(request, "error", None, status_code=status, kind=kind, status=status)


def install_error_pages(app: FastAPI) -> None:
    """HTML error pages for browsers, rendered whole on the server (no script needed); the
    API keeps its problems (web/errors.py) for everything else."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_page(request):
            return _error_page(request, exc.status_code)
        return await errors.http_problem(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        """A bug: logged with its traceback (Starlette re-raises it), answered without one."""
        if _wants_page(request):
            return _error_page(request, 500)
        return await errors.unexpected_problem(request, exc)
