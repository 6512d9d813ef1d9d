"""Rows and steps the booking tests share."""
import re
from datetime import time
from urllib.parse import parse_qs, urlsplit

from crm.bookings import catalog, services, slots
from crm.extensions import db

CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
VISITOR = {"family_name": "伊藤", "given_name": "さくら", "family_name_kana": "いとう", "given_name_kana": "サクラ",
           "phone": "090-3333-4444"}


def open_every_day(shop, opens=time(10), closes=time(19)):
    for weekday in range(7):
        catalog.set_hours(shop.id, weekday, opens, closes)


def make_service(shop, name="カット", minutes=60, price=4400, **fields):
    service = catalog.add_service(shop.id, name, minutes, price)
    for key, value in fields.items():
        setattr(service, key, value)
    db.session.flush()
    return service


def bookable_shop(shop):
    """Open every day 10:00-19:00 with a 60-minute カット; returns the service."""
    open_every_day(shop)
    return make_service(shop)


def free_starts(shop, service, count=1):
    """The first `count` free start times (aware, shop-local) from now."""
    found = []
    for day in slots.calendar(shop, service, lead=catalog.lead_time()):
        found.extend(day.slots)
        if len(found) >= count:
            return found[:count]
    raise AssertionError("no free time in the next two weeks")


def start_param(moment):
    return moment.strftime("%Y-%m-%dT%H:%M")


def visitor(**overrides):
    return services.Visitor(**{**VISITOR, **overrides})


def book(shop, service, start=None, **overrides):
    start = start or free_starts(shop, service)[0]
    return services.book(shop, service, start, visitor(**overrides))


def csrf_from(html):
    match = CSRF_INPUT.search(html)
    return match.group(1) or match.group(2)


def query_of(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def post_booking(client, shop, service, start, **fields):
    """Open the form for a time and submit it as the visitor would."""
    form_url = f"/book/{shop.booking_key}/form"
    page = client.get(form_url, query_string={"service": service.id, "start": start_param(start)})
    assert page.status_code == 200, page.get_data(as_text=True)
    data = {"csrf_token": csrf_from(page.get_data(as_text=True)), "service": service.id,
            "start": start_param(start), **VISITOR, **fields}
    return client.post(form_url, data=data)
