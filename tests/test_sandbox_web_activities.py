"""Practice activities in the sandbox: entered by hand or from the example, one per ID."""

import io
import re

import pytest
from conftest import manage_token, page_text, signup_form
from sqlalchemy import select

from training.extensions import db
from training.sandbox import rules
from training.sandbox.models import SandboxActivity


def activity_form(**overrides) -> dict:
    data = {
        "activity_id": "201234567",
        "title": "Cardiology Update 2026",
        "start_date": "2026-01-10",
        "end_date": "2026-12-20",
        "max_cme_credits": "3.5",
        "board_ABIM-is_registered": "y",
        "board_ABIM-points": "3.5",
        "board_ABIM-credit_types": ["Medical Knowledge", "Patient Safety"],
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def activities(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.scalars(select(SandboxActivity).order_by(SandboxActivity.id))
        return [
            (
                a.activity_id,
                a.title,
                str(a.max_cme_credits),
                [(b.board, str(b.points), b.credit_types) for b in a.boards],
            )
            for a in rows
        ]


def test_the_manage_page_links_to_the_sandbox(client, token):
    response = client.get(f"/manage/{token}")
    assert f'href="/manage/{token}/sandbox"' in response.get_data(as_text=True)


def test_the_sandbox_pages_title_is_its_name_and_nothing_else(client, token):
    page = client.get(f"/manage/{token}/sandbox").get_data(as_text=True)
    [title] = re.findall(r"<title>(.*?)</title>", page, re.S)
    assert title == "Practice upload sandbox · Training Desk"
    head = page.split("</head>")[0]
    assert head.count("sandbox.js") == 1
    assert "sandbox.js" not in page.split("</head>")[1]


def test_an_unknown_manage_link_opens_no_sandbox(client):
    response = client.get("/manage/not-a-token/sandbox")
    assert response.status_code == 404
    assert "This manage link is not valid" in page_text(response)


def test_organization_adds_a_practice_activity_with_its_boards(app, client, token):
    form = client.get(f"/manage/{token}/sandbox/activities/new")
    text = page_text(form)
    assert "ABIM: American Board of Internal Medicine" in text
    assert "Lifelong Learning and Self-Assessment" in text  # credit types come from rules.py

    response = client.post(f"/manage/{token}/sandbox/activities/new", data=activity_form())

    assert response.status_code == 303
    assert response.headers["Location"] == f"/manage/{token}/sandbox#activities"
    assert activities(app) == [
        (
            "201234567",
            "Cardiology Update 2026",
            "3.50",
            [("ABIM", "3.50", ["Medical Knowledge", "Patient Safety"])],
        )
    ]
    text = page_text(client.get(f"/manage/{token}/sandbox"))
    assert "Added activity 201234567." in text
    assert "ABIM 3.50: Medical Knowledge, Patient Safety" in text


def test_the_same_activity_id_twice_is_refused_with_a_message(app, client, token):
    client.post(f"/manage/{token}/sandbox/activities/new", data=activity_form())

    response = client.post(
        f"/manage/{token}/sandbox/activities/new", data=activity_form(title="Another title")
    )

    assert response.status_code == 422
    assert "Activity 201234567 is already in your sandbox." in page_text(response)
    assert len(activities(app)) == 1


def test_another_organization_may_use_the_same_activity_id(app, client, make_session, token):
    other = manage_token(
        client.post(
            "/signup",
            data=signup_form(
                make_session(),
                organization_name="Coastal Health Education",
                contact_email="kai@coastal.example.org",
                attendee_emails="",
            ),
        )
    )
    client.post(f"/manage/{token}/sandbox/activities/new", data=activity_form())
    response = client.post(f"/manage/{other}/sandbox/activities/new", data=activity_form())
    assert response.status_code == 303
    assert len(activities(app)) == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"activity_id": "12345"}, "An ACCME activity ID is 9 digits"),
        ({"end_date": "2025-12-31"}, "The end date is before the start date"),
        ({"max_cme_credits": "1.1"}, "Credits go in steps of 0.25"),
        ({"board_ABIM-credit_types": None}, "Choose at least one credit type"),
        ({"board_ABIM-points": ""}, "Enter the points the activity offers for this board."),
        (
            {"max_cme_credits": "", "board_ABIM-is_registered": None},
            "Enter the maximum CME credits, register a board below, or both",
        ),
    ],
)
def test_the_activity_form_says_what_to_fix(app, client, token, overrides, message):
    response = client.post(
        f"/manage/{token}/sandbox/activities/new", data=activity_form(**overrides)
    )
    assert response.status_code == 422
    assert message in page_text(response)
    assert activities(app) == []


def test_the_example_activity_is_added_once(app, client, token):
    response = client.post(f"/manage/{token}/sandbox/activities/example")
    assert response.headers["Location"] == f"/manage/{token}/sandbox#activities"
    assert "Added the example activity 200012345." in page_text(
        client.get(f"/manage/{token}/sandbox")
    )
    [(activity_id, title, _cme, boards)] = activities(app)
    assert activity_id == "200012345"
    assert title.startswith("Example:")
    assert [board for board, _points, _types in boards] == ["ABIM", "ABP", "ABS"]

    client.post(f"/manage/{token}/sandbox/activities/example")
    text = page_text(client.get(f"/manage/{token}/sandbox"))
    assert "Activity 200012345 is already in your sandbox." in text
    assert len(activities(app)) == 1


def test_an_activity_is_removed_only_from_its_own_sandbox(app, client, make_session, token):
    client.post(f"/manage/{token}/sandbox/activities/example")
    with app.app_context():
        activity_pk = db.session.scalar(select(SandboxActivity.id))
    other = manage_token(
        client.post(
            "/signup",
            data=signup_form(
                make_session(),
                organization_name="Coastal Health Education",
                contact_email="kai@coastal.example.org",
                attendee_emails="",
            ),
        )
    )
    client.post(f"/manage/{other}/sandbox/activities/{activity_pk}/remove")
    assert len(activities(app)) == 1

    client.post(f"/manage/{token}/sandbox/activities/{activity_pk}/remove")
    assert activities(app) == []


def test_a_board_problem_is_listed_by_board_at_the_top(client, token):
    response = client.post(
        f"/manage/{token}/sandbox/activities/new",
        data=activity_form(**{"board_ABIM-credit_types": None, "board_ABIM-points": ""}),
    )
    page = response.get_data(as_text=True)
    assert "Please correct the 2 problems below." in page_text(response)
    assert (
        '<a href="#board_ABIM-points">ABIM points: Enter the points the activity offers for '
        "this board.</a>"
    ) in page
    assert '<a href="#board_ABIM-credit_types">ABIM credit types: Choose at least one' in page
    assert 'id="board_ABIM-credit_types"' in page


def test_abpmr_is_refused_for_an_activity_starting_before_2025(app, client, token):
    abpmr = {
        "board_ABPMR-is_registered": "y",
        "board_ABPMR-points": "2",
        "board_ABPMR-credit_types": ["CME"],
    }
    early = client.post(
        f"/manage/{token}/sandbox/activities/new",
        data=activity_form(start_date="2024-12-31", end_date="2025-06-30", **abpmr),
    )
    assert early.status_code == 422
    assert "ABPMR takes PARS data only for activities starting on or after 01/01/2025" in page_text(
        early
    )
    assert activities(app) == []

    on_time = client.post(
        f"/manage/{token}/sandbox/activities/new",
        data=activity_form(start_date="2025-01-01", end_date="2025-06-30", **abpmr),
    )
    assert on_time.status_code == 303
    assert [board for board, *_ in activities(app)[0][3]] == ["ABIM", "ABPMR"]


@pytest.mark.parametrize("code", list(rules.BOARDS))
@pytest.mark.parametrize("typed", ["points", "credit_types"])
def test_points_or_credit_types_for_an_unticked_board_are_refused_not_dropped(
    app, client, token, code, typed
):
    board = rules.BOARDS[code]
    given = {"points": "2", "credit_types": [board.credit_types[0]]}[typed]
    response = client.post(
        f"/manage/{token}/sandbox/activities/new",
        data=activity_form(**{f"board_{code}-is_registered": None, f"board_{code}-{typed}": given}),
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    message = "You gave points or credit types for this board without ticking “Registered”"
    assert f'<p class="error" id="board_{code}-is_registered-error">{message}' in page
    assert f'<a href="#board_{code}-is_registered">{code} registered: {message}' in page
    assert activities(app) == []


def test_a_practice_activity_id_typed_in_groups_is_read_as_its_nine_digits(app, client, token):
    """As on the Challenges page: spaces and hyphens people group an ID with are dropped."""
    response = client.post(
        f"/manage/{token}/sandbox/activities/new", data=activity_form(activity_id="201 234-567")
    )
    assert response.status_code == 303
    assert [activity[0] for activity in activities(app)] == ["201234567"]


def test_an_upload_without_activity_column_before_any_activity_says_to_add_one(client, token):
    lines = [
        "Surname,Given,Birth Date,Lic No,State,Completed,CME,Notes",
        "Alvarez,Jose,03/15,A1234,CA,11/20/2026,1,",
    ]
    response = client.post(
        f"/manage/{token}/sandbox/uploads",
        data={
            "learner_file": (io.BytesIO(("\r\n".join(lines) + "\r\n").encode()), "own.csv"),
            "mode": "full",
        },
        content_type="multipart/form-data",
    )
    page = client.get(response.headers["Location"])
    markup = page.get_data(as_text=True)
    activity_select = re.search(r'<select[^>]*id="fill_activity".*?</select>', markup, re.S)
    assert "No activity added yet" in activity_select.group(0)
    assert f'href="/manage/{token}/sandbox/activities/new"' in markup
    preview = page_text(page).split("The first rows as they will be read")[1]
    assert "No activity has been added to your sandbox yet" in preview
    assert "Choose which of your activities" not in page_text(page)
