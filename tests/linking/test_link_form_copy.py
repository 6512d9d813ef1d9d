"""The customer-facing linking pages are the salon's, not the staff app's 顧客台帳."""
from tests.linking.test_linking_flow import _friend_taps_check_bookings, _link_path


def test_the_link_form_and_its_answer_are_headed_with_the_salons_name(client, line_shop):
    user, friend, answer = _friend_taps_check_bookings(client, line_shop)
    path = _link_path(answer)
    html = client.get(path).get_data(as_text=True)
    name = line_shop.shop.name
    assert f'<h1 class="booking-shop-name">{name}</h1>' in html and f"| {name}</title>" in html
    assert "顧客台帳" not in html and "顧客情報の連携" in html
    done = client.post_form(path, {"family_name": "田中", "given_name": "花子", "phone": "090-1234-5678"})
    html = done.get_data(as_text=True)
    assert name in html and "顧客台帳" not in html
