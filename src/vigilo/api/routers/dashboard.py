"""The web dashboard at /dashboard/: server-rendered pages over the running services.

Thin: data comes from `vigilo.dashboard.service`, who may enter from `vigilo.dashboard.access`, the
HTML from the Jinja2 templates in `vigilo/web/dashboard`. Every POST form carries the session's CSRF
token (the login form a double-submit cookie); pages are sent with a strict Content-Security-Policy.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from vigilo.dashboard import access, service
from vigilo.dashboard.render import STATIC, render
from vigilo.dashboard.sessions import csrf_ok
from vigilo.dashboard.texts import text as service_text
from vigilo.i18n import MESSAGES, Locale
from vigilo.services import Services

router = APIRouter(prefix="/dashboard", include_in_schema=False)

T = TypeVar("T")
LANG_COOKIE = "vigilo_lang"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; "
    "form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_STATUSES = ("new", "ongoing", "ended")
_DONE = {"camera_enabled", "camera_disabled", "retried", "silence_added", "silence_expired"}


# -- plumbing ------------------------------------------------------------------------------------


def _locale(request: Request) -> Locale:
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in ("zh-CN", "en"):
            return value  # type: ignore[return-value]
    default: Locale = request.app.state.settings.server.default_locale
    return default


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _run(request: Request, call: Callable[[Services], T]) -> T:
    services = _services(request)
    return await anyio.to_thread.run_sync(lambda: call(services))


async def _part(request: Request, call: Callable[[Services], Any]) -> service.Part:
    services = _services(request)
    return await anyio.to_thread.run_sync(lambda: service.part(lambda: call(services)))


def _page(
    request: Request,
    template: str,
    visitor: access.Visitor | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    locale = _locale(request)
    other = "en" if locale == "zh-CN" else "zh-CN"
    if request.method == "GET":
        switch = request.url.path + "?" + urlencode({**request.query_params, "lang": other})
    else:  # a page answering a form: switch on the page the form came from
        switch = _form_page(request.url.path) + "?" + urlencode({"lang": other})
    html = render(
        template,
        locale,
        visitor=visitor.session if visitor else None,
        can_log_out=access.login_required(request.app.state.settings),
        path=request.url.path,
        lang_url=switch,
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=HEADERS)
    if visitor is not None and visitor.cookie is not None:
        access.set_session_cookie(request, response, visitor.cookie, access.state(request).signer.ttl_s)
    if request.query_params.get("lang") in ("zh-CN", "en"):
        response.set_cookie(LANG_COOKIE, locale, max_age=365 * 86400, path="/dashboard", samesite="strict")
    return response


def _form_page(path: str) -> str:
    for prefix, page in (
        ("/dashboard/alerts", "alerts"),
        ("/dashboard/silences", "alerts"),
        ("/dashboard/cameras", "cameras"),
    ):
        if path.startswith(prefix):
            return f"/dashboard/{page}"
    return "/dashboard/login" if path == "/dashboard/login" else "/dashboard/"


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/dashboard/") and "//" not in value and "\\" not in value:
        return value
    return "/dashboard/"


def _guard(request: Request) -> access.Visitor | Response:
    """The visitor, or the response that sends them away (to the login page, or a 401 page)."""
    found = access.visitor(request)
    if found is not None:
        return found
    if not access.login_required(request.app.state.settings):
        return _page(request, "denied.html", status=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/dashboard/login?" + urlencode({"next": target}), status_code=303)


async def _guard_post(request: Request) -> tuple[access.Visitor, FormData] | Response:
    found = _guard(request)
    if isinstance(found, Response):
        return found
    form = await request.form()
    token = form.get("csrf")
    if not csrf_ok(found.session, token if isinstance(token, str) else None):
        return _page(request, "refused.html", found, status=403)
    return found, form


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _done(path: str, done: str, **params: object) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode({'done': done, **params})}", status_code=303)


def _flash(request: Request) -> dict[str, str] | None:
    """The success note named in `?done=` (whitelisted keys; `id` must be a number, `name` is escaped)."""
    done = request.query_params.get("done")
    if done not in _DONE:
        return None
    ident = request.query_params.get("id", "")
    return {"key": f"done_{done}", "id": ident if ident.isdigit() else "", "name": request.query_params.get("name", "")}


# -- login ---------------------------------------------------------------------------------------


@router.get("", response_class=RedirectResponse)
async def dashboard_root() -> RedirectResponse:
    return RedirectResponse("/dashboard/", status_code=307)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    if not access.login_required(request.app.state.settings):
        return RedirectResponse("/dashboard/", status_code=303)
    return _login_page(request, None, 200)


def _login_page(request: Request, error: str | None, status: int, next_url: str | None = None) -> Response:
    token, new = access.login_csrf(request)
    next_url = _safe_next(next_url or request.query_params.get("next"))
    response = _page(request, "login.html", status=status, error=error, csrf=token, next_url=next_url)
    if new:
        access.set_login_csrf_cookie(request, response, token)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    settings = request.app.state.settings
    if not access.login_required(settings):
        return RedirectResponse("/dashboard/", status_code=303)
    form = await request.form()
    limiter = access.state(request).limiter
    ip = access.client_ip(request)
    locale = _locale(request)
    next_url = _safe_next(_field(form, "next"))
    if limiter.blocked(ip):
        minutes = max(1, round(limiter.window_s / 60))
        return _login_page(request, service_text("login_limited", locale, minutes=minutes), 429, next_url)
    token, cookie_token = _field(form, "csrf"), request.cookies.get(access.LOGIN_CSRF_COOKIE) or ""
    if not token or not hmac.compare_digest(token.encode(), cookie_token.encode()):
        return _login_page(request, service_text("login_csrf", locale), 403, next_url)
    secret = _field(form, "secret")
    try:
        user = await anyio.to_thread.run_sync(lambda: access.check_secret(settings, secret))
    except access.LoginBusy:
        return _login_page(request, service_text("login_busy", locale), 503, next_url)
    if user is None:
        limiter.failed(ip)
        return _login_page(request, service_text("login_bad", locale), 401, next_url)
    signer = access.state(request).signer
    cookie, _ = signer.issue(user)
    response = RedirectResponse(next_url, status_code=303)
    access.set_session_cookie(request, response, cookie, signer.ttl_s)
    response.delete_cookie(access.LOGIN_CSRF_COOKIE, path="/dashboard")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    guarded = await _guard_post(request)
    if isinstance(guarded, Response):
        return guarded
    target = "/dashboard/login" if access.login_required(request.app.state.settings) else "/dashboard/"
    response = RedirectResponse(target, status_code=303)
    access.clear_session_cookie(response)
    return response


# -- pages ---------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request) -> Response:
    visitor = _guard(request)
    if isinstance(visitor, Response):
        return visitor
    cameras = await _part(request, service.cameras)
    recent = await _part(request, lambda s: service.events(s, service.EventFilters(), limit=10))
    stats = await _part(request, service.alert_stats)
    return _page(request, "overview.html", visitor, cameras=cameras, recent=recent, stats=stats)


@router.get("/cameras", response_class=HTMLResponse)
async def cameras_page(request: Request) -> Response:
    visitor = _guard(request)
    if isinstance(visitor, Response):
        return visitor
    cameras = await _part(request, service.cameras)
    flash = _flash(request)
    names = [c["name"] for c in cameras.data or []]
    if flash and flash["name"] not in names:
        flash = None
    return _page(request, "cameras.html", visitor, cameras=cameras, flash=flash)


@router.post("/cameras/{name}/{action}")
async def switch_camera(request: Request, name: str, action: str) -> Response:
    from vigilo.phone.manager import UnknownCamera

    guarded = await _guard_post(request)
    if isinstance(guarded, Response):
        return guarded
    if action not in ("enable", "disable"):
        return _page(request, "missing.html", guarded[0], status=404)
    try:
        await _run(request, lambda s: service.switch_camera(s, name, action == "enable"))
    except UnknownCamera:
        return _page(request, "missing.html", guarded[0], status=404)
    return _done("/dashboard/cameras", f"camera_{action}d", name=name)


def _since(value: str) -> dt.datetime | None:
    """`2026-12-01`, `2026-12-01T08:00` or a `datetime-local` value, read in the server's local time."""
    parsed = dt.datetime.fromisoformat(value)
    return parsed.astimezone() if parsed.tzinfo is None else parsed


@router.get("/events", response_class=HTMLResponse)
async def events_page(request: Request) -> Response:
    visitor = _guard(request)
    if isinstance(visitor, Response):
        return visitor
    query = request.query_params
    status = query.get("status") if query.get("status") in _STATUSES else None
    error = None
    since = None
    if query.get("since"):
        try:
            since = _since(query["since"])
        except ValueError:
            error = service_text("bad_since", _locale(request), value=query["since"])
    offset = int(query["offset"]) if query.get("offset", "").isdigit() else 0
    filters = service.EventFilters(query.get("camera") or None, query.get("zone") or None, status, since)
    found = await _part(request, lambda s: service.events(s, filters, limit=50, offset=offset))
    names = await _part(request, lambda s: (service.camera_names(s), service.zone_names(s)))
    base = {k: v for k, v in query.items() if k in ("camera", "zone", "status", "since") and v}
    return _page(
        request,
        "events.html",
        visitor,
        events=found,
        filters=base,
        cameras=names.data[0] if names.data else [],
        zones=names.data[1] if names.data else [],
        error=error,
        newer=urlencode({**base, "offset": max(0, offset - 50)}) if offset else None,
        older=urlencode({**base, "offset": offset + 50}) if found.data and len(found.data) == 50 else None,
    )


@router.get("/events/{event_id}", response_class=HTMLResponse)
async def event_page(request: Request, event_id: int) -> Response:
    visitor = _guard(request)
    if isinstance(visitor, Response):
        return visitor
    found = await _part(request, lambda s: service.event(s, event_id))
    if found.error is None and found.data is None:
        return _page(request, "missing.html", visitor, status=404)
    return _page(request, "event.html", visitor, event=found)


@router.get("/events/{event_id}/snapshot.jpg", response_model=None)
async def event_snapshot(request: Request, event_id: int) -> Response:
    return await _event_file(request, event_id, "snapshot", "image/jpeg")


@router.get("/events/{event_id}/clip.mp4", response_model=None)
async def event_clip(request: Request, event_id: int) -> Response:
    """The episode's clip, when `events.clips` made one."""
    return await _event_file(request, event_id, "clip", "video/mp4")


async def _event_file(request: Request, event_id: int, kind: str, media_type: str) -> Response:
    visitor = _guard(request)
    if isinstance(visitor, Response):
        return visitor
    found = await _part(request, lambda s: service.event(s, event_id))
    path = getattr(found.data, kind, None)
    if path is None or not path.is_file():
        return Response(status_code=404, headers=HEADERS)
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=60"})


async def _alerts_page(request: Request, visitor: access.Visitor, status: int = 200, **extra: Any) -> Response:
    stats = await _part(request, service.alert_stats)
    dead = await _part(request, service.dead_letters)
    silences = await _part(request, service.silences)
    flash = _flash(request)
    return _page(
        request, "alerts.html", visitor, status, stats=stats, dead=dead, silences=silences, flash=flash, **extra
    )


@router.get("/alerts", response_class=HTMLResponse)
async def alerts_page(request: Request) -> Response:
    visitor = _guard(request)
    if isinstance(visitor, Response):
        return visitor
    return await _alerts_page(request, visitor)


@router.post("/alerts/{row_id}/retry")
async def retry_alert(request: Request, row_id: int) -> Response:
    from vigilo.alerts.outbox import OutboxError

    guarded = await _guard_post(request)
    if isinstance(guarded, Response):
        return guarded
    try:
        await _run(request, lambda s: service.retry_dead_letter(s, row_id))
    except OutboxError as exc:
        locale = _locale(request)
        reason = MESSAGES.get(exc.code, {}).get(locale, exc.code).format(**{"id": row_id, **exc.params})
        message = service_text("retry_failed", locale, id=row_id, reason=reason)
        return await _alerts_page(request, guarded[0], 404 if exc.code == "alert_not_found" else 409, error=message)
    return _done("/dashboard/alerts", "retried", id=row_id)


@router.post("/silences")
async def add_silence(request: Request) -> Response:
    guarded = await _guard_post(request)
    if isinstance(guarded, Response):
        return guarded
    visitor, form = guarded
    matchers, duration, comment = _field(form, "matchers"), _field(form, "duration"), _field(form, "comment")
    user = f"dashboard:{visitor.session.user}"
    try:
        stored = await _run(request, lambda s: service.add_silence(s, matchers, duration, comment[:500], user))
    except ValueError as exc:
        message = service_text("silence_bad", _locale(request), reason=str(exc))
        form_values = {"matchers": matchers, "duration": duration, "comment": comment}
        return await _alerts_page(request, visitor, 422, error=message, form=form_values)
    return _done("/dashboard/alerts", "silence_added", id=stored["id"])


@router.post("/silences/{silence_id}/expire")
async def expire_silence(request: Request, silence_id: int) -> Response:
    guarded = await _guard_post(request)
    if isinstance(guarded, Response):
        return guarded
    if not await _run(request, lambda s: service.expire_silence(s, silence_id)):
        message = service_text("silence_missing", _locale(request), id=silence_id)
        return await _alerts_page(request, guarded[0], 404, error=message)
    return _done("/dashboard/alerts", "silence_expired", id=silence_id)


@router.get("/charts", response_class=HTMLResponse)
async def charts_page(request: Request) -> Response:
    visitor = _guard(request)
    if isinstance(visitor, Response):
        return visitor
    zone = request.query_params.get("zone") or None
    series = await _part(request, lambda s: service.event_series(s, zone=zone))
    zones = await _part(request, service.zone_names)
    return _page(request, "charts.html", visitor, series=series, zones=zones.data or [], zone=zone)


@router.get("/liveness", response_class=HTMLResponse)
async def liveness_page(request: Request) -> Response:
    visitor = _guard(request)
    if isinstance(visitor, Response):
        return visitor
    stats = await _part(request, service.liveness_stats)
    return _page(request, "liveness.html", visitor, stats=stats)


_ASSET_NAME = re.compile(r"^[A-Za-z0-9_-]+\.(css|js|svg|png|ico)$")


@router.get("/static/{name}", response_model=None)
async def static_file(name: str) -> Response:
    """The dashboard's own CSS and images (no CDN); public, like the login page that uses them."""
    path = STATIC / name
    if not _ASSET_NAME.match(name) or not path.is_file():
        return Response(status_code=404)
    return FileResponse(path, headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})
