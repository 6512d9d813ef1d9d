"""Normalization of names, kana and phone numbers into the indexed match keys.

LINE linking and the ledger search both compare these keys, so every path that
writes a customer goes through here.
"""
import re
import unicodedata
from dataclasses import dataclass

import jaconv
import phonenumbers

_SPACES = re.compile(r"\s+")
_PHONE_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−ー－ｰ().・/]")


def normalize_name(value):
    """NFKC with every kind of space removed: 「山田　太郎」 → 「山田太郎」."""
    if not value:
        return ""
    return _SPACES.sub("", unicodedata.normalize("NFKC", value))


def normalize_kana(value):
    """Full-width katakana without spaces, whatever width or script was typed."""
    if not value:
        return ""
    # NFKC already widens half-width katakana and joins ﾀﾞ into ダ.
    text = normalize_name(value)
    return jaconv.hira2kata(text)


@dataclass(frozen=True)
class Phone:
    e164: str
    national: str  # digits only, with the trunk prefix: 09012345678


class InvalidPhone(ValueError):
    """The text is not a phone number that can be dialled."""


def normalize_phone(value, region="JP"):
    """Parse a phone number as typed (full-width, hyphens, +81...) into its keys."""
    text = unicodedata.normalize("NFKC", value or "").strip()
    text = _PHONE_SEPARATORS.sub("", text)
    if not text:
        raise InvalidPhone("empty")
    if not re.fullmatch(r"\+?\d+", text):
        raise InvalidPhone("not digits")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(str(exc)) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("invalid number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = re.sub(r"\D", "", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
    return Phone(e164=e164, national=national)


def phone_search_digits(value, region="JP"):
    """Digits of a partial phone number as typed, in national form, or None if not phone-like.

    「０９０ー１２」 → 「09012」, 「+81 90 12」 → 「09012」.
    """
    text = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", value or "").strip())
    if not re.fullmatch(r"\+?\d+", text):
        return None
    if text.startswith("+"):
        code = str(phonenumbers.country_code_for_region(region))
        if not text[1:].startswith(code):
            return text[1:]
        return "0" + text[1 + len(code):]
    return text
