"""The match keys LINE linking and search rely on."""
import pytest

from crm.customers.normalize import (
    InvalidPhone,
    normalize_kana,
    normalize_name,
    normalize_phone,
    phone_search_digits,
)


@pytest.mark.parametrize(
    "typed",
    [
        "090-1234-5678",
        "09012345678",
        "+81 90 1234 5678",
        "０９０ー１２３４ー５６７８",
        "０９０－１２３４－５６７８",
        "+81-90-1234-5678",
        "(090) 1234 5678",
        "  090 1234 5678  ",
        "+８１９０１２３４５６７８",
    ],
)
def test_same_mobile_number_in_every_format(typed):
    phone = normalize_phone(typed)
    assert phone.e164 == "+819012345678"
    assert phone.national == "09012345678"


@pytest.mark.parametrize(
    ("typed", "e164"),
    [("03-1234-5678", "+81312345678"), ("0120-123-456", "+81120123456"), ("+1 650 253 0000", "+16502530000")],
)
def test_other_numbers_normalize_to_e164(typed, e164):
    assert normalize_phone(typed).e164 == e164


@pytest.mark.parametrize("typed", ["", "abc", "090-1234", "1234567890123456", "090-1234-567８９", "090 1234 5678 内線"])
def test_invalid_phone_numbers_are_refused(typed):
    with pytest.raises(InvalidPhone):
        normalize_phone(typed)


@pytest.mark.parametrize("typed", ["山田 太郎", "山田　太郎", "山田太郎", " 山田\t太郎 ", "山田 　太郎"])
def test_same_name_regardless_of_spaces(typed):
    assert normalize_name(typed) == "山田太郎"


def test_name_nfkc_folds_full_width_latin():
    assert normalize_name("ＹＡＭＡＤＡ Ｔａｒｏ") == "YAMADATaro"


@pytest.mark.parametrize("typed", ["ヤマダ タロウ", "やまだたろう", "ﾔﾏﾀﾞﾀﾛｳ", "ヤマダ　タロウ", "やまだ ﾀﾛｳ"])
def test_same_kana_regardless_of_script_and_width(typed):
    assert normalize_kana(typed) == "ヤマダタロウ"


def test_different_names_stay_different():
    assert normalize_kana("ヤマダタロウ") != normalize_kana("ヤマタタロウ")
    assert normalize_name("山田太郎") != normalize_name("山田次郎")


@pytest.mark.parametrize(
    ("typed", "digits"),
    [("０９０ー１２", "09012"), ("+81 90 12", "09012"), ("090-1234", "0901234"), ("5678", "5678"), ("山田", None), ("", None)],
)
def test_partial_phone_input_for_search(typed, digits):
    assert phone_search_digits(typed) == digits
