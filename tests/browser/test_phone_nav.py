"""At 375 px every nav link can be reached: the nav is its own row that scrolls sideways, with a fade as the cue."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_ledger_browser import PHONE_WIDTH, assert_fits_phone, sign_in

pytestmark = pytest.mark.browser


def test_the_phone_nav_shows_that_more_links_follow_and_reaches_them(mobile_page, seed):
    page = mobile_page
    sign_in(page, seed)
    assert_fits_phone(page)
    nav = page.locator("nav.topnav")
    box = nav.bounding_box()
    brand = page.locator(".brand").bounding_box()
    assert box["y"] >= brand["y"] + brand["height"] - 1  # a row of its own, under the brand
    assert box["x"] + box["width"] <= PHONE_WIDTH
    state = nav.evaluate("n => ({scroll: n.scrollWidth, client: n.clientWidth, overflow: getComputedStyle(n).overflowX,"
                         " mask: getComputedStyle(n).maskImage || getComputedStyle(n).webkitMaskImage})")
    assert state["overflow"] == "auto"
    assert "gradient" in state["mask"]  # the fading edge: more follows
    for name in ("未連携の友だち", "通知"):
        link = nav.get_by_role("link", name=name)
        link.scroll_into_view_if_needed()
        expect(link).to_be_in_viewport()
        bounds = link.bounding_box()
        assert 0 <= bounds["x"] and bounds["x"] + bounds["width"] <= PHONE_WIDTH, name
    assert_fits_phone(page)
    nav.get_by_role("link", name="通知").click()
    expect(page).to_have_url(re.compile(r"/notifications$"))
