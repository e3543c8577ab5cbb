"""Which spellings name the same organization."""

import pytest

from training.booking.names import organization_key, provider_id_digits


@pytest.mark.parametrize(
    "variant",
    [
        "Sierra Valley Medical Society",
        "SIERRA VALLEY MEDICAL SOCIETY",
        "Sierra Valley Medical Society, Inc.",
        "Sierra  Valley   Medical Society LLC",
        "Sierra-Valley Medical Society Foundation",
        "The Sierra Valley Medical Society",
        "Sierra Valley Medical Society, Inc., LLC",
        "Siérra Valley Medical Society",
        "Sierra Valley Medical Society (Corp.)",
    ],
)
def test_spelling_variants_name_the_same_organization(variant):
    assert organization_key(variant) == organization_key("Sierra Valley Medical Society")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Sierra Valley Medical Society", "Sierra Valley Medical Association"),
        ("North Coast Health", "South Coast Health"),
        ("Foundation Health", "Valley Health"),
    ],
)
def test_different_organizations_stay_different(one, other):
    assert organization_key(one) != organization_key(other)


def test_a_name_that_is_only_a_suffix_is_kept():
    assert organization_key("Foundation") == "foundation"
    assert organization_key("The Foundation, Inc.") == "foundation"


def test_ampersand_and_the_word_and_are_the_same():
    assert organization_key("Heart & Lung Institute") == organization_key(
        "Heart and Lung Institute"
    )


def test_names_in_other_scripts_keep_their_letters():
    assert organization_key("مركز الطب") == organization_key("مركز  الطب")
    assert organization_key("東京医療") != ""


def test_provider_id_digits_drop_spaces_and_dashes():
    assert provider_id_digits(" 001-2345 ") == "0012345"
