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
        "Sierra Valley Medical Society, L.L.C.",
        "Sierra Valley Medical Society L.L.C",
        "Sierra Valley Medical Society, P.C.",
        "Sierra Valley Medical Society & Co",
        "Sierra Valley Medical Society & Co.",
        "Sierra Valley Medical Society and Company, Inc.",
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
        ("Smith & Sons Clinic", "Smith Clinic"),
        ("A.B.C. Medical Group", "Medical Group"),
        ("Johnson and Johnson", "Johnson"),
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


def test_a_key_is_never_longer_than_its_column():
    """ "&" reads as "and" and a ligature as its letters, so a 200-character name can make a
    longer key: it is cut to 200 characters, ending in a digest of the whole."""
    long_names = ["a&" * 100, "\ufb03" * 200, "Clinic " + "&b" * 96]
    keys = [organization_key(name) for name in long_names]
    assert all(len(key) == 200 for key in keys)
    assert len(set(keys)) == len(keys)
    assert organization_key("a&" * 100) == organization_key("A and " * 99 + "A &")
