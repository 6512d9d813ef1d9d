"""Rich menus: create, validate, list, images, default and per-user links, aliases.

Bodies are validated against messaging-api.yml, plus the rules LINE documents
for rich menus that the spec leaves out: all of size/selected/name/
chatBarText/areas are required, width 800-2500 px, height at least 250 px,
width/height at least 1.45, at most 20 areas inside the image.  An image
(PNG or JPEG, at most 1 MB, uploaded once) is required before a menu can be
linked to users, as on LINE.
"""
from __future__ import annotations

import base64
import re
import secrets

from flask import Blueprint, Response, g, jsonify, request

from .api import LineError, json_body, sandbox, validate_body

bp = Blueprint("richmenu", __name__)

IMAGE_TYPES = ("image/png", "image/jpeg")
IMAGE_MAX_BYTES = 1024 * 1024
MAX_AREAS = 20
_USER_ID = re.compile(r"^U[0-9a-f]{32}$")


def richmenu_errors(menu: dict) -> list[dict]:
    """LINE's documented rich menu rules beyond the OpenAPI schema."""
    if not isinstance(menu, dict):
        return []
    details = [{"message": "must be specified", "property": key}
               for key in ("size", "selected", "name", "chatBarText", "areas") if key not in menu]
    size = menu.get("size") if isinstance(menu.get("size"), dict) else {}
    width, height = size.get("width"), size.get("height")
    if isinstance(width, int) and isinstance(height, int):
        if not 800 <= width <= 2500:
            details.append({"message": "must be between 800 and 2500", "property": "size.width"})
        if height < 250:
            details.append({"message": "must be greater than or equal to 250", "property": "size.height"})
        if height and width / height < 1.45:
            details.append({"message": "aspect ratio (width / height) must be at least 1.45", "property": "size"})
    areas = menu.get("areas") if isinstance(menu.get("areas"), list) else []
    if len(areas) > MAX_AREAS:
        details.append({"message": f"Size must be between 0 and {MAX_AREAS}", "property": "areas"})
    for i, area in enumerate(areas):
        bounds = area.get("bounds") if isinstance(area, dict) else None
        if not isinstance(bounds, dict) or not all(isinstance(bounds.get(k), int) for k in ("x", "y", "width", "height")):
            details.append({"message": "must be specified", "property": f"areas[{i}].bounds"})
        elif isinstance(width, int) and isinstance(height, int) and (
                bounds["x"] + bounds["width"] > width or bounds["y"] + bounds["height"] > height):
            details.append({"message": "must be inside the rich menu", "property": f"areas[{i}].bounds"})
        if not isinstance(area, dict) or "action" not in area:
            details.append({"message": "must be specified", "property": f"areas[{i}].action"})
    return details


def _menus(data) -> dict:
    return data["richmenus"].setdefault(g.channel_id, {})


def _menu_or_404(data, rich_menu_id: str) -> dict:
    menu = _menus(data).get(rich_menu_id)
    if menu is None:
        raise LineError(404, "Not found")
    return menu


def public(menu: dict) -> dict:
    """A stored rich menu as LINE returns it (without the sandbox's image field)."""
    return {k: v for k, v in menu.items() if k != "image"}


def _linkable(data, rich_menu_id: str) -> None:
    if not _menu_or_404(data, rich_menu_id).get("image"):
        raise LineError(400, "must upload richmenu image before applying it to user")


@bp.post("/v2/bot/richmenu")
def create():
    body = json_body()
    validate_body(body, richmenu_errors(body))
    rich_menu_id = "richmenu-" + secrets.token_hex(16)
    with sandbox().state.change() as data:
        _menus(data)[rich_menu_id] = {"richMenuId": rich_menu_id, **body, "image": None}
    return jsonify(richMenuId=rich_menu_id)


@bp.post("/v2/bot/richmenu/validate")
def validate():
    body = json_body()
    validate_body(body, richmenu_errors(body))
    return jsonify({})


@bp.get("/v2/bot/richmenu/list")
def list_menus():
    with sandbox().state.read() as data:
        return jsonify(richmenus=[public(m) for m in _menus(data).values()])


@bp.get("/v2/bot/richmenu/<rich_menu_id>")
def get(rich_menu_id):
    with sandbox().state.read() as data:
        return jsonify(public(_menu_or_404(data, rich_menu_id)))


@bp.delete("/v2/bot/richmenu/<rich_menu_id>")
def delete(rich_menu_id):
    with sandbox().state.change() as data:
        _menu_or_404(data, rich_menu_id)
        del _menus(data)[rich_menu_id]
        if data["default_richmenu"].get(g.channel_id) == rich_menu_id:
            del data["default_richmenu"][g.channel_id]
        links = data["user_richmenus"].get(g.channel_id, {})
        for user_id in [u for u, m in links.items() if m == rich_menu_id]:
            del links[user_id]
    return jsonify({})


@bp.post("/v2/bot/richmenu/<rich_menu_id>/content")
def upload_image(rich_menu_id):
    content = request.get_data(cache=True)
    if request.mimetype not in IMAGE_TYPES:
        raise LineError(415, "Unsupported Media Type: the image must be image/png or image/jpeg")
    if len(content) > IMAGE_MAX_BYTES:
        raise LineError(413, "Request Entity Too Large: the image must be 1 MB or less")
    with sandbox().state.change() as data:
        menu = _menu_or_404(data, rich_menu_id)
        if menu.get("image"):
            raise LineError(400, "An image has already been uploaded to the richmenu")
        menu["image"] = {"content_type": request.mimetype, "data": base64.b64encode(content).decode("ascii")}
    return jsonify({})


@bp.get("/v2/bot/richmenu/<rich_menu_id>/content")
def download_image(rich_menu_id):
    with sandbox().state.read() as data:
        image = _menu_or_404(data, rich_menu_id).get("image")
        if not image:
            raise LineError(404, "Not found")
        return Response(base64.b64decode(image["data"]), mimetype=image["content_type"])


@bp.post("/v2/bot/user/all/richmenu/<rich_menu_id>")
def set_default(rich_menu_id):
    with sandbox().state.change() as data:
        _linkable(data, rich_menu_id)
        data["default_richmenu"][g.channel_id] = rich_menu_id
    return jsonify({})


@bp.get("/v2/bot/user/all/richmenu")
def get_default():
    with sandbox().state.read() as data:
        rich_menu_id = data["default_richmenu"].get(g.channel_id)
    if not rich_menu_id:
        raise LineError(404, "no default richmenu")
    return jsonify(richMenuId=rich_menu_id)


@bp.delete("/v2/bot/user/all/richmenu")
def cancel_default():
    with sandbox().state.change() as data:
        data["default_richmenu"].pop(g.channel_id, None)
    return jsonify({})


def _check_user_id(user_id: str) -> None:
    if not _USER_ID.match(user_id):
        raise LineError(400, f"The value for the 'userId' parameter is invalid: {user_id}")


@bp.post("/v2/bot/user/<user_id>/richmenu/<rich_menu_id>")
def link_user(user_id, rich_menu_id):
    _check_user_id(user_id)
    with sandbox().state.change() as data:
        _linkable(data, rich_menu_id)
        data["user_richmenus"].setdefault(g.channel_id, {})[user_id] = rich_menu_id
    return jsonify({})


@bp.get("/v2/bot/user/<user_id>/richmenu")
def get_user_menu(user_id):
    _check_user_id(user_id)
    with sandbox().state.read() as data:
        rich_menu_id = data["user_richmenus"].get(g.channel_id, {}).get(user_id)
    if not rich_menu_id:
        raise LineError(404, "the user has no richmenu")
    return jsonify(richMenuId=rich_menu_id)


@bp.delete("/v2/bot/user/<user_id>/richmenu")
def unlink_user(user_id):
    _check_user_id(user_id)
    with sandbox().state.change() as data:
        data["user_richmenus"].get(g.channel_id, {}).pop(user_id, None)
    return jsonify({})


@bp.post("/v2/bot/richmenu/bulk/link")
def bulk_link():
    body = json_body()
    validate_body(body)
    with sandbox().state.change() as data:
        _linkable(data, body["richMenuId"])
        links = data["user_richmenus"].setdefault(g.channel_id, {})
        links.update({user_id: body["richMenuId"] for user_id in body["userIds"]})
    return jsonify({}), 202


@bp.post("/v2/bot/richmenu/bulk/unlink")
def bulk_unlink():
    body = json_body()
    validate_body(body)
    with sandbox().state.change() as data:
        links = data["user_richmenus"].get(g.channel_id, {})
        for user_id in body["userIds"]:
            links.pop(user_id, None)
    return jsonify({}), 202


# -- aliases (for richmenuswitch actions) -------------------------------------
def _aliases(data) -> dict:
    return data["richmenu_aliases"].setdefault(g.channel_id, {})


@bp.post("/v2/bot/richmenu/alias")
def create_alias():
    body = json_body()
    validate_body(body)
    with sandbox().state.change() as data:
        _linkable(data, body["richMenuId"])
        if body["richMenuAliasId"] in _aliases(data):
            raise LineError(400, "conflict richmenu alias id")
        _aliases(data)[body["richMenuAliasId"]] = body["richMenuId"]
    return jsonify({})


@bp.get("/v2/bot/richmenu/alias/list")
def list_aliases():
    with sandbox().state.read() as data:
        return jsonify(aliases=[{"richMenuAliasId": a, "richMenuId": m} for a, m in _aliases(data).items()])


@bp.get("/v2/bot/richmenu/alias/<alias_id>")
def get_alias(alias_id):
    with sandbox().state.read() as data:
        if alias_id not in _aliases(data):
            raise LineError(404, "richmenu alias not found")
        return jsonify(richMenuAliasId=alias_id, richMenuId=_aliases(data)[alias_id])


@bp.post("/v2/bot/richmenu/alias/<alias_id>")
def update_alias(alias_id):
    body = json_body()
    validate_body(body)
    with sandbox().state.change() as data:
        if alias_id not in _aliases(data):
            raise LineError(404, "richmenu alias not found")
        _linkable(data, body["richMenuId"])
        _aliases(data)[alias_id] = body["richMenuId"]
    return jsonify({})


@bp.delete("/v2/bot/richmenu/alias/<alias_id>")
def delete_alias(alias_id):
    with sandbox().state.change() as data:
        if _aliases(data).pop(alias_id, None) is None:
            raise LineError(404, "richmenu alias not found")
    return jsonify({})
