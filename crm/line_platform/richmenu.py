"""The shop's customer rich menu (予約する, 予約を確認する), installed on LINE through the API."""
import struct
import zlib

from flask_babel import gettext as _
from linebot.v3.messaging import RichMenuRequest

from crm.line_platform.client import line_apis

WIDTH, HEIGHT = 2500, 843
CHECK_BOOKINGS = "action=check_bookings"


def menu_definition(booking_url):
    """Two areas: the booking page, and a postback the app answers."""
    half = WIDTH // 2
    return {
        "size": {"width": WIDTH, "height": HEIGHT},
        "selected": True,
        "name": "customer-menu",
        "chatBarText": _("メニュー"),
        "areas": [
            {"bounds": {"x": 0, "y": 0, "width": half, "height": HEIGHT},
             "action": {"type": "uri", "label": _("予約する"), "uri": booking_url}},
            {"bounds": {"x": half, "y": 0, "width": WIDTH - half, "height": HEIGHT},
             "action": {"type": "postback", "label": _("予約を確認する"), "data": CHECK_BOOKINGS,
                        "displayText": _("予約を確認する")}},
        ],
    }


def menu_image():
    """A 2500×843 PNG, two colour blocks matching the two areas (LINE requires an image)."""
    left, right, line = (6, 199, 85), (255, 255, 255), (220, 220, 220)
    half = WIDTH // 2
    row = bytearray(b"\x00")
    for x in range(WIDTH):
        row.extend(left if x < half else (line if x < half + 8 else right))
    raw = bytes(row) * HEIGHT

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def install(channel, booking_url):
    """Create the menu, upload its image, make it every friend's default; the old one is removed."""
    with line_apis(channel.channel_access_token) as apis:
        created = apis.messaging.create_rich_menu(RichMenuRequest.from_dict(menu_definition(booking_url)))
        apis.blob.set_rich_menu_image(
            created.rich_menu_id, body=menu_image(), _headers={"Content-Type": "image/png"}
        )
        apis.messaging.set_default_rich_menu(created.rich_menu_id)
        if channel.rich_menu_id and channel.rich_menu_id != created.rich_menu_id:
            try:
                apis.messaging.delete_rich_menu(channel.rich_menu_id)
            except Exception:  # an old menu deleted by hand on LINE's side is fine
                pass
    channel.rich_menu_id = created.rich_menu_id
    return created.rich_menu_id


def summary() -> dict:
    """What the installed menu is, for people: its name, size and the label of each area (not LINE's id)."""
    definition = menu_definition("")
    return {
        "name": _("予約メニュー"),
        "width": definition["size"]["width"],
        "height": definition["size"]["height"],
        "areas": [area["action"]["label"] for area in definition["areas"]],
    }
