"""The walkthrough's steps: data files in seed/walkthrough, loaded by `flask seed`."""

from pathlib import Path

import pytest
from sqlalchemy import select

from training import PROJECT_ROOT
from training.extensions import db
from training.live.models import WalkthroughStep
from training.live.steps import parse_step_file, seed_walkthrough

WALKTHROUGH = Path(PROJECT_ROOT) / "seed" / "walkthrough"
STEP_TITLES = [
    "Collect learner permission",
    "Find your activity in PARS",
    "Download the learner template",
    "Fill in the learner rows",
    "Upload to the sandbox",
    "Read and fix the findings",
    "Upload for real in PARS",
    "Check CME Passport",
]


def loaded_steps(app) -> list[tuple[int, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(WalkthroughStep.position, WalkthroughStep.title).order_by(
                WalkthroughStep.position
            )
        )
        return [tuple(row) for row in rows]


def test_a_step_file_has_a_title_participant_text_and_facilitator_notes():
    step = parse_step_file(
        "03-download-template.md",
        "---\ntitle: Download it\n---\nFor everyone.\n\n## Facilitator notes\n- Only us.\n",
    )
    assert (step.position, step.slug, step.title) == (3, "download-template", "Download it")
    assert step.participant_text == "For everyone.\n"
    assert step.facilitator_notes == "- Only us.\n"


@pytest.mark.parametrize(
    ("filename", "text", "message"),
    [
        ("download.md", "---\ntitle: x\n---\nText", "download.md: step files are named NN-slug.md"),
        ("01-ok.md", "---\nauthor: x\n---\nText", "01-ok.md: the front matter needs a title"),
    ],
)
def test_a_step_file_without_its_number_or_title_is_refused(filename, text, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        parse_step_file(filename, text)


def test_every_shipped_step_has_text_for_both_audiences():
    files = sorted(WALKTHROUGH.glob("[0-9][0-9]-*.md"))
    steps = [parse_step_file(path.name, path.read_text(encoding="utf-8")) for path in files]
    assert [step.title for step in steps] == STEP_TITLES
    for step in steps:
        assert step.participant_text.strip() and step.facilitator_notes.strip(), step.slug
    permission = steps[0].participant_text
    assert "I give *[your organization]* permission to report" in permission
    rows = steps[3].participant_text
    for detail in ("First Name", "Date of Birth", "Licensing State", "Licensing ID or NPI"):
        assert detail in rows


def test_seed_loads_the_steps_once_and_keeps_staff_edits(app, runner):
    result = runner.invoke(args=["seed", "--year", "2023"])
    assert result.exit_code == 0, result.output
    assert "Loaded 8 walkthrough steps." in result.output
    assert [title for _position, title in loaded_steps(app)] == STEP_TITLES

    with app.app_context():
        step = db.session.scalars(
            select(WalkthroughStep).where(WalkthroughStep.position == 2)
        ).one()
        step.title = "Find your activity (our words)"
        db.session.commit()
    again = runner.invoke(args=["seed", "--year", "2023"])
    assert "walkthrough" not in again.output
    assert loaded_steps(app)[1] == (2, "Find your activity (our words)")
    assert len(loaded_steps(app)) == 8


def test_seed_if_empty_still_loads_missing_steps(app, runner):
    runner.invoke(args=["seed", "--year", "2023"])
    with app.app_context():
        db.session.execute(db.delete(WalkthroughStep))
        db.session.commit()
    result = runner.invoke(args=["seed", "--if-empty"])
    assert "Loaded 8 walkthrough steps." in result.output
    assert "nothing seeded" in result.output


def test_a_new_step_file_lands_after_steps_staff_reordered(app, tmp_path):
    (tmp_path / "01-first.md").write_text("---\ntitle: First\n---\nText\n")
    (tmp_path / "README.md").write_text("# Not a step\n")
    with app.app_context():
        db.session.add(
            WalkthroughStep(
                slug="staff-made",
                position=1,
                title="Ours",
                participant_text="",
                facilitator_notes="",
            )
        )
        assert seed_walkthrough(tmp_path) == 1
        db.session.commit()
    assert loaded_steps(app) == [(1, "Ours"), (101, "First")]
