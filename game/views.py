"""HTTP pages: the home page (create, join, public rooms) and the room page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from game import address_limits, protocol, selectors, services
from game.errors import GameError


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "game/home.html", {"public_rooms": selectors.public_rooms()})


def _home_with_error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "game/home.html", {"error": message, "public_rooms": selectors.public_rooms()},
                  status=status)


@require_POST
def create_room(request: HttpRequest) -> HttpResponse:
    if not address_limits.allow("create_room", address_limits.client_address(request.META)):
        return _home_with_error(request, "Too many new rooms from your address; try again in a few minutes.", 429)
    try:
        room = services.create_room(is_public=request.POST.get("public") in ("on", "1", "true"))
    except GameError as exc:
        return _home_with_error(request, exc.message, 503)
    return redirect("room", code=room.code)


def _room_by_code(request: HttpRequest, code: str):
    """The room, None if there is none, or the 429 page for an address that tried too many codes."""
    try:
        return address_limits.room_by_code(code=code, address=address_limits.client_address(request.META))
    except GameError as exc:
        return _home_with_error(request, exc.message, 429)


@require_GET
def join_by_code(request: HttpRequest) -> HttpResponse:
    code = (request.GET.get("code") or "").strip().upper()
    found = _room_by_code(request, code)
    if isinstance(found, HttpResponse):
        return found
    if found is None:
        return _home_with_error(request, "No room with that code.", 404)
    return redirect("room", code=code)


@require_GET
def room(request: HttpRequest, code: str) -> HttpResponse:
    found = _room_by_code(request, code)
    if isinstance(found, HttpResponse):
        return found
    if found is None:
        # Rendered here, not raised: a dead room link is ordinary, and DEBUG's technical 404 must not show it.
        return render(request, "game/room_gone.html", {"code": code}, status=404)
    context = {
        "code": found.code,
        "canvas_width": protocol.CANVAS_WIDTH,
        "canvas_height": protocol.CANVAS_HEIGHT,
        "brush_sizes": protocol.BRUSH_SIZES,
    }
    return render(request, "game/room.html", context)


@require_GET
def public_rooms(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"rooms": selectors.public_rooms()})
