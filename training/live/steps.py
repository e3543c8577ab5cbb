"""The walkthrough's steps: data files in ``seed/walkthrough/NN-slug.md``, loaded into the
database by ``flask --app training seed``, and read back in order."""

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from training.extensions import db
from training.live.models import WalkthroughStep

STEP_FILE = re.compile(r"^(\d{2})-([a-z0-9-]+)\.md$")
NOTES_HEADING = "## Facilitator notes"


@dataclass(frozen=True)
class StepText:
    """A step as written in ``seed/walkthrough/NN-slug.md``."""

    position: int
    slug: str
    title: str
    participant_text: str
    facilitator_notes: str


def parse_step_file(filename: str, text: str) -> StepText:
    """Read a step file: front matter with ``title``, participant text, ``## Facilitator notes``."""
    match = STEP_FILE.match(filename)
    if match is None:
        raise ValueError(f"{filename}: step files are named NN-slug.md")
    _, front, body = text.split("---", 2)
    titles = [
        line.partition(":")[2].strip() for line in front.splitlines() if line.startswith("title:")
    ]
    if not titles or not titles[0]:
        raise ValueError(f"{filename}: the front matter needs a title")
    participant, _, notes = body.partition(f"\n{NOTES_HEADING}\n")
    return StepText(
        position=int(match.group(1)),
        slug=match.group(2),
        title=titles[0],
        participant_text=participant.strip() + "\n",
        facilitator_notes=notes.strip() + "\n" if notes.strip() else "",
    )


def seed_walkthrough(folder: Path) -> int:
    """Add the steps in ``folder`` that are not loaded yet (by slug); return how many."""
    known = set(db.session.scalars(select(WalkthroughStep.slug)))
    taken = set(db.session.scalars(select(WalkthroughStep.position)))
    added = 0
    for path in sorted(folder.glob("*.md")):
        if not STEP_FILE.match(path.name):
            continue
        step = parse_step_file(path.name, path.read_text(encoding="utf-8"))
        if step.slug in known:
            continue
        position = step.position
        while position in taken:  # staff reordered the steps: add this one after them
            position += 100
        db.session.add(
            WalkthroughStep(
                slug=step.slug,
                position=position,
                title=step.title,
                participant_text=step.participant_text,
                facilitator_notes=step.facilitator_notes,
            )
        )
        taken.add(position)
        added += 1
    db.session.flush()
    return added


def walkthrough() -> list[WalkthroughStep]:
    """Every step, in order."""
    return list(db.session.scalars(select(WalkthroughStep).order_by(WalkthroughStep.position)))


def step_position(step: WalkthroughStep | None, steps: list[WalkthroughStep]) -> int | None:
    """1 for the first step."""
    if step is None:
        return None
    return next((number for number, s in enumerate(steps, 1) if s.id == step.id), None)
