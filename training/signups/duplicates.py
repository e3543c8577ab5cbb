"""Which active signups may be the same organization: a pure judgement over plain data."""

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from difflib import SequenceMatcher

# Names at least this alike (difflib's ratio on the organization keys) are worth a look.
NAME_SIMILARITY = 0.85
# A shorter key inside a longer one counts only from this length, so "ama" matches nothing.
MIN_CONTAINED_KEY = 5
# The reason given for a pair whose addresses share a domain, before the domain.
SHARED_DOMAIN_REASON = "email addresses at "
# Addresses here say nothing about the organization behind them.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "outlook.com", "hotmail.com",
        "live.com", "msn.com", "aol.com", "icloud.com", "me.com", "mac.com", "proton.me",
        "protonmail.com", "comcast.net", "att.net", "sbcglobal.net", "verizon.net",
    }
)  # fmt: skip


@dataclass(frozen=True)
class SignupFacts:
    """What the comparison needs to know about one active signup."""

    id: int
    program_id: int
    organization_key: str
    provider_id: str | None
    emails: tuple[str, ...]


@dataclass(frozen=True)
class PossibleDuplicate:
    """Two signups (``first_id`` < ``second_id``) and why they may be one organization."""

    first_id: int
    second_id: int
    reasons: tuple[str, ...]

    @property
    def only_shared_domains(self) -> bool:
        """Whether an email domain in common is all the two have."""
        return all(reason.startswith(SHARED_DOMAIN_REASON) for reason in self.reasons)


def email_domain(address: str) -> str:
    """The part of an address after the @, lowercased."""
    return address.rpartition("@")[2].strip().lower()


def provider_digits(provider_id: str | None) -> str:
    """The provider number with everything but digits dropped, and leading zeros too."""
    return re.sub(r"\D", "", provider_id or "").lstrip("0")


def find_possible_duplicates(
    signups: Iterable[SignupFacts], reviewed: Set[tuple[int, int]] = frozenset()
) -> list[PossibleDuplicate]:
    """Pairs of signups in the same program that may be one organization, minus ``reviewed``.

    ``reviewed`` holds ``(lower id, higher id)`` pairs staff have already decided on. Pairs with
    a like name or the same provider ID come first, then those listed only for a shared email
    domain (a domain many signups share, a health system's say, pairs them all); each part in
    signup order.
    """
    reasons: dict[tuple[int, int], list[str]] = defaultdict(list)
    by_program: dict[int, list[SignupFacts]] = defaultdict(list)
    for signup in signups:
        by_program[signup.program_id].append(signup)
    for members in by_program.values():
        members.sort(key=lambda signup: signup.id)
        _similar_names(members, reasons)
        _shared_domains(members, reasons)
        _same_provider(members, reasons)
    return sorted(
        (
            PossibleDuplicate(first_id, second_id, tuple(found))
            for (first_id, second_id), found in reasons.items()
            if (first_id, second_id) not in reviewed
        ),
        key=lambda pair: (pair.only_shared_domains, pair.first_id, pair.second_id),
    )


def _similar_names(members: Sequence[SignupFacts], reasons: dict) -> None:
    matcher = SequenceMatcher(autojunk=False)
    for index, first in enumerate(members):
        if not first.organization_key:
            continue
        # SequenceMatcher caches what it learns about its second sequence: set it once per row.
        matcher.set_seq2(first.organization_key)
        for second in members[index + 1 :]:
            key = second.organization_key
            if not key:
                continue
            if key == first.organization_key:
                reasons[first.id, second.id].append("the same name")
                continue
            shorter, longer = sorted((key, first.organization_key), key=len)
            if len(shorter) >= MIN_CONTAINED_KEY and shorter in longer:
                reasons[first.id, second.id].append("one name contains the other")
                continue
            matcher.set_seq1(key)
            if (
                matcher.real_quick_ratio() >= NAME_SIMILARITY
                and matcher.quick_ratio() >= NAME_SIMILARITY
                and matcher.ratio() >= NAME_SIMILARITY
            ):
                reasons[first.id, second.id].append("similar names")


def _shared_domains(members: Sequence[SignupFacts], reasons: dict) -> None:
    by_domain: dict[str, list[int]] = defaultdict(list)
    for signup in members:
        domains = {email_domain(address) for address in signup.emails} - {""}
        for domain in sorted(domains - FREE_MAIL_DOMAINS):
            by_domain[domain].append(signup.id)
    for domain, ids in sorted(by_domain.items()):
        for index, first_id in enumerate(ids):
            for second_id in ids[index + 1 :]:
                reasons[first_id, second_id].append(f"{SHARED_DOMAIN_REASON}{domain}")


def _same_provider(members: Sequence[SignupFacts], reasons: dict) -> None:
    by_digits: dict[str, list[SignupFacts]] = defaultdict(list)
    for signup in members:
        digits = provider_digits(signup.provider_id)
        if digits:
            by_digits[digits].append(signup)
    for group in by_digits.values():
        for index, first in enumerate(group):
            for second in group[index + 1 :]:
                spellings = dict.fromkeys((first.provider_id, second.provider_id))
                reasons[first.id, second.id].append(
                    f"the same provider ID ({' and '.join(spellings)})"
                )
