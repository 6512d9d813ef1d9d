"""LINE messages that tell a customer how their link went, and the 顧客情報の連携 card."""
from flask_babel import gettext as _

from crm.line_platform.sending import queue_messages, queue_text


def link_card(link_url):
    """The Flex card seed 002 describes: 「顧客情報の連携」 with the button 「顧客情報を連携する」."""
    return {
        "type": "flex",
        "altText": _("顧客情報の連携"),
        "contents": {
            "type": "bubble",
            "body": {
                "type": "box",
                "layout": "vertical",
                "spacing": "md",
                "contents": [
                    {"type": "text", "text": _("顧客情報の連携"), "weight": "bold", "size": "lg"},
                    {"type": "text", "wrap": True, "size": "sm",
                     "text": _("ご予約の確認には、お客様情報との連携が必要です。氏名と携帯電話番号を入力してください。")},
                ],
            },
            "footer": {
                "type": "box",
                "layout": "vertical",
                "contents": [
                    {"type": "button", "style": "primary",
                     "action": {"type": "uri", "label": _("顧客情報を連携する"), "uri": link_url}},
                ],
            },
        },
    }


def send_link_card(friend, link_url, **origin):
    """Answer an unlinked friend's 予約を確認する with the linking card."""
    return queue_messages(friend, [link_card(link_url)], **origin)


def confirm_linked(friend, customer):
    """Tell the customer their LINE is now connected to their record."""
    return queue_text(friend, _("%(name)s 様、顧客情報の連携が完了しました。今後はLINEでご予約の確認やご連絡ができます。",
                                name=customer.full_name))


def confirm_pending(friend):
    """Tell the customer the shop is checking their request."""
    return queue_text(friend, _("顧客情報の連携のご依頼を受け付けました。店舗で確認のうえ、完了しましたらお知らせします。"))


def send_waiting_notice(friend, **origin):
    """Answer 予約を確認する while the friend's link waits for the shop: nothing private yet."""
    return queue_text(friend, **origin, text=_("顧客情報の連携は、ただいま店舗の確認待ちです。確認が済みましたらLINEでお知らせしますので、"
                                "それまでお待ちください。お急ぎの場合はお店までご連絡ください。"))
