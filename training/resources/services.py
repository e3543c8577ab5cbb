"""Resource pages (defaults from seed/, staff edits in the database) and permission wording."""

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from markupsafe import Markup
from sqlalchemy import select

from training.audit.services import record
from training.booking.display import sentence
from training.constraints import unique_or
from training.errors import Refused
from training.extensions import db, seed_path
from training.resources.models import ResourcePage

PAGES = ("quick-start", "faq", "permission-wording")


@dataclass(frozen=True)
class Page:
    """A resource page as shown: shipped, or as staff edited it (``is_edited``)."""

    slug: str
    title: str
    body: str
    is_edited: bool


def default_page(slug: str) -> Page:
    """The page as shipped in ``seed/resources/<slug>.md`` (a title in front matter, then text)."""
    return _page_at(seed_path("resources", f"{slug}.md"), slug)


@cache
def _page_at(path: Path, slug: str) -> Page:
    text = path.read_text(encoding="utf-8")
    _, front, body = text.split("---", 2)
    title = next(
        line.partition(":")[2].strip() for line in front.splitlines() if line.startswith("title:")
    )
    return Page(slug=slug, title=title, body=body.strip() + "\n", is_edited=False)


def get_page(slug: str) -> Page | None:
    """The page named ``slug``, or None when there is no such page."""
    if slug not in PAGES:
        return None
    edited = edited_page(slug)
    if edited is None:
        return default_page(slug)
    return Page(slug=slug, title=edited.title, body=edited.body, is_edited=True)


class PageSavedMeanwhile(Refused):
    """Two people saved a page's first edit at once; the other one's is kept."""

    def __init__(self):
        super().__init__(
            "Someone else saved this page at the same moment. Your text is still below: "
            "save again to keep it instead."
        )


def save_page(slug: str, title: str, body: str, *, actor) -> None:
    """Keep staff's version of a page; raises ``PageSavedMeanwhile`` (nothing saved)."""
    page = edited_page(slug)
    with unique_or({"uq_resource_pages_slug": PageSavedMeanwhile}):
        if page is None:
            page = ResourcePage(slug=slug)
            db.session.add(page)
        page.title, page.body, page.updated_by_id = title, body, actor.id
    record("resource.edited", actor=actor, page=slug)


def edited_page(slug: str) -> ResourcePage | None:
    """Staff's version of the page ``slug``, or None while it shows its default."""
    return db.session.scalars(select(ResourcePage).where(ResourcePage.slug == slug)).first()


def restore_default(slug: str, *, actor) -> None:
    """Drop staff's version so the page shows its default again."""
    page = edited_page(slug)
    if page is not None:
        db.session.delete(page)
        record("resource.restored", actor=actor, page=slug)


@dataclass(frozen=True)
class Wording:
    """A sample permission wording, with ``{organization}`` and ``{duration}`` to fill in;
    ``withdraw_by_writing``: it ends saying the permission is withdrawn by writing to the
    organization."""

    key: str
    label: str
    text: str
    withdraw_by_writing: bool


@dataclass(frozen=True)
class Duration:
    """How long a permission lasts: the activities it ``covers``, and whether it lasts
    ``until_withdrawn`` (for perpetuity)."""

    covers: str
    until_withdrawn: bool


# What the permission page shows for the organization and the duration of a sample.
SAMPLE_ORGANIZATION = "[your organization]"
SAMPLE_DURATION = Duration(
    "[this activity / activities this year / all activities until withdrawn]", False
)


def _wording_data() -> dict:
    return _toml_at(seed_path("resources", "permission_wordings.toml"))


@cache
def _toml_at(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def wordings() -> list[Wording]:
    """The sample permission wordings shipped in the seed folder."""
    return [Wording(**item) for item in _wording_data()["wordings"]]


def durations() -> dict[str, Duration]:
    """How long a permission may last, by key: the builder's choices."""
    return {key: Duration(**item) for key, item in _wording_data()["durations"].items()}


def wording_html(text: str) -> str:
    """The wording as an HTML paragraph (its text escaped), ready to paste into a web page."""
    return str(Markup("<p>{}</p>").format(text))


def build_wording(organization: str, wording_key: str, duration_key: str) -> str:
    """The chosen sample wording with the organization's name and the permission's duration."""
    wording = next(w for w in wordings() if w.key == wording_key)
    return _filled(wording, organization, durations()[duration_key])


def sample_wording(wording: Wording) -> str:
    """``wording`` as the permission page shows it, with placeholders to fill in."""
    return _filled(wording, SAMPLE_ORGANIZATION, SAMPLE_DURATION)


def _filled(wording: Wording, organization: str, duration: Duration) -> str:
    """The wording's text, then the sentence on withdrawing once (if any), each sentence ended
    by ``sentence()``: "Acme Inc." at a sentence's end gets no second period."""
    withdrawal = _wording_data()["withdrawal"]
    if duration.until_withdrawn:
        key = "until_withdrawn_by_writing" if wording.withdraw_by_writing else "until_withdrawn"
    else:
        key = "by_writing" if wording.withdraw_by_writing else None
    parts = [wording.text] + ([withdrawal[key]] if key else [])
    # str.replace, not format(): braces in an organization's name stay as typed.
    return " ".join(
        sentence(
            part.replace("{duration}", duration.covers).replace("{organization}", organization)
        )
        for part in parts
    )
