"""Rich menus: LINE's rules for creating, uploading and linking them."""
import requests

PNG = b"\x89PNG\r\n\x1a\nfake"
MENU = {
    "size": {"width": 2500, "height": 843}, "selected": True, "name": "メインメニュー", "chatBarText": "メニュー",
    "areas": [
        {"bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
         "action": {"type": "postback", "label": "予約する", "data": "action=book", "displayText": "予約する"}},
        {"bounds": {"x": 1250, "y": 0, "width": 1250, "height": 843},
         "action": {"type": "uri", "label": "ホームページ", "uri": "https://example.com"}},
    ],
}


def create_menu(api, menu=MENU, image=True):
    response = api.post("/v2/bot/richmenu", json=menu)
    assert response.status_code == 200, response.text
    rich_menu_id = response.json()["richMenuId"]
    if image:
        assert api.post(f"/v2/bot/richmenu/{rich_menu_id}/content", data=PNG,
                        headers={"Content-Type": "image/png"}).status_code == 200
    return rich_menu_id


def test_create_get_list_and_delete(api):
    rich_menu_id = create_menu(api, image=False)
    assert rich_menu_id.startswith("richmenu-")
    assert api.get(f"/v2/bot/richmenu/{rich_menu_id}").json() == {"richMenuId": rich_menu_id, **MENU}
    assert [m["richMenuId"] for m in api.get("/v2/bot/richmenu/list").json()["richmenus"]] == [rich_menu_id]
    assert api.post("/v2/bot/richmenu/validate", json=MENU).json() == {}
    assert api.delete(f"/v2/bot/richmenu/{rich_menu_id}").status_code == 200
    assert api.get(f"/v2/bot/richmenu/{rich_menu_id}").status_code == 404


def test_invalid_menus_are_refused(api):
    too_small = {**MENU, "size": {"width": 600, "height": 200}}
    response = api.post("/v2/bot/richmenu", json=too_small)
    assert response.status_code == 400
    properties = {d["property"] for d in response.json()["details"]}
    assert {"size.width", "size.height"} <= properties
    bad_action = {**MENU, "areas": [{**MENU["areas"][0], "action": {"type": "teleport"}}]}
    assert api.post("/v2/bot/richmenu/validate", json=bad_action).json()["details"] == [
        {"message": "Invalid type: 'teleport'", "property": "areas[0].action.type"}]
    long_bar = api.post("/v2/bot/richmenu", json={**MENU, "chatBarText": "あ" * 15})
    assert {"message": "Length must be between 0 and 14", "property": "chatBarText"} in long_bar.json()["details"]
    missing = api.post("/v2/bot/richmenu", json={"size": MENU["size"]}).json()["details"]
    assert {"message": "must be specified", "property": "areas"} in missing


def test_image_upload_rules(api):
    rich_menu_id = create_menu(api, image=False)
    path = f"/v2/bot/richmenu/{rich_menu_id}/content"
    assert api.post(path, data=b"GIF89a", headers={"Content-Type": "image/gif"}).status_code == 415
    assert api.post(path, data=PNG, headers={"Content-Type": "image/png"}).status_code == 200
    assert api.post(path, data=PNG, headers={"Content-Type": "image/png"}).status_code == 400
    image = api.get(path)
    assert image.content == PNG and image.headers["Content-Type"] == "image/png"


def test_default_and_per_user_links(line_sandbox, channel, friend, api):
    unlinked = create_menu(api, image=False)
    refused = api.post(f"/v2/bot/user/all/richmenu/{unlinked}")
    assert refused.status_code == 400
    default = create_menu(api)
    personal = create_menu(api, {**MENU, "name": "会員メニュー"})
    assert api.get("/v2/bot/user/all/richmenu").status_code == 404
    assert api.post(f"/v2/bot/user/all/richmenu/{default}").status_code == 200
    assert api.get("/v2/bot/user/all/richmenu").json() == {"richMenuId": default}

    user_path = f"/v2/bot/user/{friend['user_id']}/richmenu"
    assert api.get(user_path).status_code == 404
    phone_view = requests.get(f"{line_sandbox.url}/phone/api/chat/{channel['channel_id']}/{friend['user_id']}", timeout=5).json()
    assert phone_view["richmenu"]["richMenuId"] == default
    assert [a["label"] for a in phone_view["richmenu"]["areas"]] == ["予約する", "ホームページ"]

    assert api.post(f"{user_path}/{personal}").status_code == 200
    assert api.get(user_path).json() == {"richMenuId": personal}
    phone_view = requests.get(f"{line_sandbox.url}/phone/api/chat/{channel['channel_id']}/{friend['user_id']}", timeout=5).json()
    assert phone_view["richmenu"]["richMenuId"] == personal and phone_view["richmenu"]["image_url"]
    assert requests.get(line_sandbox.url + phone_view["richmenu"]["image_url"], timeout=5).content == PNG

    assert api.delete(user_path).status_code == 200
    assert api.get(user_path).status_code == 404
    assert api.delete("/v2/bot/user/all/richmenu").status_code == 200
    assert api.get("/v2/bot/user/all/richmenu").status_code == 404


def test_tapping_an_area_sends_the_postback(line_sandbox, channel, friend, api, webhook_receiver):
    # What the phone page does for a postback area: a postback event with the area's data.
    result = line_sandbox.send(channel["channel_id"], friend["user_id"],
                               {"type": "postback", "data": "action=book", "display_text": "予約する"})
    assert result["event"]["postback"] == {"data": "action=book"}
    assert line_sandbox.chat(channel["channel_id"], friend["user_id"])[-1]["display_text"] == "予約する"


def test_aliases_and_richmenuswitch(line_sandbox, channel, friend, api):
    first, second = create_menu(api), create_menu(api, {**MENU, "name": "タブ2"})
    assert api.post("/v2/bot/richmenu/alias", json={"richMenuAliasId": "tab-2", "richMenuId": second}).status_code == 200
    assert api.post("/v2/bot/richmenu/alias", json={"richMenuAliasId": "tab-2", "richMenuId": first}).status_code == 400
    assert api.get("/v2/bot/richmenu/alias/tab-2").json() == {"richMenuAliasId": "tab-2", "richMenuId": second}
    api.post(f"/v2/bot/user/all/richmenu/{first}")

    switched = requests.post(f"{line_sandbox.url}/phone/api/richmenu-switch/{channel['channel_id']}/{friend['user_id']}",
                             json={"richMenuAliasId": "tab-2", "data": "tab=2"}, timeout=5).json()
    assert switched["event"]["postback"] == {"data": "tab=2", "params": {"newRichMenuAliasId": "tab-2", "status": "SUCCESS"}}
    assert api.get(f"/v2/bot/user/{friend['user_id']}/richmenu").json() == {"richMenuId": second}
    assert [a["richMenuAliasId"] for a in api.get("/v2/bot/richmenu/alias/list").json()["aliases"]] == ["tab-2"]
    assert api.delete("/v2/bot/richmenu/alias/tab-2").status_code == 200


def test_bulk_link_and_unlink(line_sandbox, friend, api):
    menu = create_menu(api)
    assert api.post("/v2/bot/richmenu/bulk/link", json={"richMenuId": menu, "userIds": [friend["user_id"]]}).status_code == 202
    assert api.get(f"/v2/bot/user/{friend['user_id']}/richmenu").json() == {"richMenuId": menu}
    assert api.post("/v2/bot/richmenu/bulk/unlink", json={"userIds": [friend["user_id"]]}).status_code == 202
    assert api.get(f"/v2/bot/user/{friend['user_id']}/richmenu").status_code == 404
