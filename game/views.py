"""HTTP pages: the home page (create, join, public rooms) and the room page."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from game import actions, address_limits, protocol, rules, selectors, thumbnails
from game.errors import GameError
from game.models import Drawing

# A finished turn's drawing never changes: browsers and proxies may keep its picture.
IMMUTABLE = "public, max-age=604800, immutable"


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "game/home.html", {"public_rooms": selectors.public_rooms()})


def _home_with_error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(
        request, "game/home.html", {"error": message, "public_rooms": selectors.public_rooms()}, status=status
    )


@require_POST
def create_room(request: HttpRequest) -> HttpResponse:
    if not address_limits.allow("create_room", address_limits.client_address(request.META)):
        return _home_with_error(request, "Too many new rooms from your address; try again in a few minutes.", 429)
    mode = request.POST.get("mode") or rules.Mode.CLASSIC
    if mode not in rules.MODES:
        return _home_with_error(request, "There is no such game mode.", 400)
    try:
        room = actions.do_create_room(mode=mode, is_public=request.POST.get("public") in ("on", "1", "true"))
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
        "mode": found.mode,
        # The game's constants, read by the page's scripts from here (one place: the protocol and the rules).
        "constants": {
            "canvasWidth": protocol.CANVAS_WIDTH,
            "canvasHeight": protocol.CANVAS_HEIGHT,
            "brushSizes": list(protocol.BRUSH_SIZES),
            "palette": list(protocol.PALETTE),
            "maxPointsPerBatch": protocol.MAX_POINTS_PER_BATCH,
            "maxPointsPerStroke": protocol.MAX_POINTS_PER_STROKE,
            "maxFrameBytes": protocol.MAX_FRAME_BYTES,
            "maxText": protocol.MAX_TEXT,
            "settingRanges": rules.SETTING_RANGES,
            "aiModes": list(rules.AI_MODES),
            "aiMask": rules.AI_MASK_CHAR,
            "minHumans": {str(mode): n for mode, n in rules.MIN_HUMANS.items()},
        },
    }
    return render(request, "game/room.html", context)


@require_GET
def public_rooms(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"rooms": selectors.public_rooms()})


@require_GET
def gallery(request: HttpRequest, code: str, game_no: int) -> JsonResponse:
    """The drawings of one game of a room, as far as their turns are over (GalleryItem each)."""
    room = selectors.room_by_code(code=code)
    if room is None:
        raise Http404("no such room")
    items = selectors.gallery(room=room, game_no=game_no)
    response = JsonResponse({"drawings": [item.model_dump() for item in items]})
    response["Cache-Control"] = "no-cache"  # the list grows while the game runs
    return response


def _svg_response(drawing_id: int, strokes: list) -> HttpResponse:
    key = f"gtd:drawing-svg:{drawing_id}"
    svg = cache.get(key)
    if svg is None:
        svg = thumbnails.drawing_svg(strokes)
        cache.set(key, svg, timeout=3600)
    return HttpResponse(svg, content_type="image/svg+xml")


@require_GET
def drawing_svg(request: HttpRequest, code: str, drawing_id: int) -> HttpResponse:
    """A finished turn's drawing as a small SVG (a running turn's drawing is not served)."""
    drawing = selectors.ended_drawing(code=code, drawing_id=drawing_id)
    if drawing is None:
        raise Http404("no such drawing")
    response = _svg_response(drawing.pk, drawing.strokes)
    response["Cache-Control"] = IMMUTABLE
    return response


@staff_member_required
@require_GET
def admin_drawing_svg(request: HttpRequest, drawing_id: int) -> HttpResponse:
    """Any stored drawing as a small SVG, for the admin's drawing list (which never loads the strokes itself)."""
    drawing = Drawing.objects.filter(pk=drawing_id).only("strokes").first()
    if drawing is None:
        raise Http404("no such drawing")
    return HttpResponse(
        thumbnails.drawing_svg(drawing.strokes),
        content_type="image/svg+xml",
        headers={"Cache-Control": "private, max-age=60"},
    )
