"""Alembic migrations build the schema the models describe, and undo it."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from training import create_app
from training.extensions import db
from training.sandbox import judge


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_app(request, tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINING_INSTANCE_PATH", str(tmp_path))
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    else:
        url = request.getfixturevalue("make_postgres_database")()
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    yield app
    with app.app_context():
        db.engine.dispose()


def _insert_program(connection, at: datetime) -> None:
    """Program 1, as the migrations from 0012 on find its table."""
    connection.execute(
        text(
            "INSERT INTO programs (id, slug, name, description, timezone, "
            "window_starts_on, window_ends_on, signup_opens_at, signup_closes_at, "
            "staff_email, accme_challenge_due_on, cma_challenge_due_on, "
            "attestation_text, created_at) VALUES (1, 'p', 'P', '', 'UTC', "
            "'2026-12-01', '2026-12-08', :at, :at, 's@x.org', '2026-12-04', "
            "'2027-03-31', 'a', :at)"
        ),
        {"at": at},
    )


def _insert_signup(connection, signup_id: int, status: str, name: str, key: str, at) -> None:
    """A signup of program 1 with no session (cancelled or waitlisted)."""
    connection.execute(
        text(
            "INSERT INTO signups (id, program_id, status, organization_name, "
            "organization_key, contact_name, contact_email, attestation_text, "
            "attested_at, submission_key_hash, invite_sequence, created_at, "
            "updated_at) VALUES (:id, 1, :status, :name, :key, 'C', 'c@x.org', "
            "'a', :at, :hash, 0, :at, :at)"
        ),
        {"id": signup_id, "status": status, "name": name, "key": key, "hash": f"h{signup_id}",
         "at": at},
    )  # fmt: skip


def test_an_empty_database_upgraded_to_head_matches_the_models(empty_database_app):
    with empty_database_app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []


def test_downgrade_to_base_removes_every_table(empty_database_app):
    with empty_database_app.app_context():
        upgrade()
        downgrade(revision="base")
        assert inspect(db.engine).get_table_names() == ["alembic_version"]


def test_drawings_repeated_before_the_one_drawing_rule_are_kept_as_draws_again(
    empty_database_app,
):
    with empty_database_app.app_context():
        upgrade(revision="0011_worker_heartbeats")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO programs (id, slug, name, description, timezone, "
                    "window_starts_on, window_ends_on, signup_opens_at, signup_closes_at, "
                    "staff_email, accme_challenge_due_on, cma_challenge_due_on, "
                    "attestation_text, created_at) VALUES (1, 'p', 'P', '', 'UTC', "
                    "'2026-12-01', '2026-12-08', :at, :at, 's@x.org', '2026-12-10', "
                    "'2027-03-01', 'a', :at)"
                ),
                {"at": datetime(2026, 11, 1, tzinfo=UTC)},
            )
            for drawing_id, challenge in ((1, "accme"), (2, "accme"), (3, "cma")):
                connection.execute(
                    text(
                        "INSERT INTO challenge_drawings (id, program_id, challenge, seed, "
                        "eligible_signup_ids, winner_signup_ids, drawn_at) "
                        "VALUES (:id, 1, :challenge, '7', '[1]', '[1]', :at)"
                    ),
                    {
                        "id": drawing_id,
                        "challenge": challenge,
                        "at": datetime(2026, 12, 9, tzinfo=UTC),
                    },
                )
        upgrade()
        with db.engine.connect() as connection:
            reasons = connection.execute(
                text("SELECT id, redraw_reason FROM challenge_drawings ORDER BY id")
            ).all()
    assert [(drawing_id, reason is None) for drawing_id, reason in reasons] == [
        (1, True),
        (2, False),
        (3, True),
    ]


def test_challenge_reminders_sent_before_rounds_count_as_their_round(empty_database_app):
    with empty_database_app.app_context():
        upgrade(revision="0012_one_drawing_per_challenge")
        at = datetime(2026, 11, 27, 8, tzinfo=UTC)
        with db.engine.begin() as connection:
            _insert_program(connection, at)
            for signup_id in (1, 2):
                _insert_signup(connection, signup_id, "cancelled", "O", f"k{signup_id}", at)
                connection.execute(
                    text(
                        "INSERT INTO challenge_reminders (signup_id, challenge, sent_at) "
                        "VALUES (:id, 'accme', :at)"
                    ),
                    {"id": signup_id, "at": at + timedelta(minutes=signup_id)},
                )
        upgrade()
        with db.engine.connect() as connection:
            rounds = connection.execute(
                text("SELECT program_id, challenge FROM challenge_reminder_rounds")
            ).all()
    assert [tuple(row) for row in rounds] == [(1, "accme")]


def test_organization_keys_are_read_again_unless_two_bookings_would_share_one(
    empty_database_app,
):
    """0016: "L.L.C." and "& Co" are read as suffixes in the keys already stored; a booking
    that would then share its key with another active one keeps its old key (the unique index
    allows one), for staff to merge from the duplicates page."""
    with empty_database_app.app_context():
        upgrade(revision="0015_sandbox_pars_files")
        at = datetime(2026, 11, 27, 8, tzinfo=UTC)
        with db.engine.begin() as connection:
            _insert_program(connection, at)
            society = "Sierra Valley Medical Society"
            signups = [
                (1, "waitlisted", society, "sierravalleymedicalsociety"),
                (2, "waitlisted", f"{society}, L.L.C.", "sierravalleymedicalsocietyllc"),
                (3, "waitlisted", "North Coast Health & Co", "northcoasthealthand"),
                (4, "cancelled", "South Bay P.C.", "southbaypc"),
            ]
            for signup_id, status, name, key in signups:
                _insert_signup(connection, signup_id, status, name, key, at)
        upgrade(revision="0016_organization_keys_again")
        with db.engine.connect() as connection:
            keys = connection.execute(
                text("SELECT id, organization_key FROM signups ORDER BY id")
            ).all()
    assert [tuple(row) for row in keys] == [
        (1, "sierravalleymedicalsociety"),
        (2, "sierravalleymedicalsocietyllc"),  # would share signup 1's: left for staff
        (3, "northcoasthealth"),
        (4, "southbay"),
    ]


def _insert_sandbox_record(connection, record_id: int, license_or_npi: str, at) -> None:
    """A sandbox record of John Smith (01/01) for signup 1, keyed as before 0019."""
    old = judge.key_digest(("john", "smith", 1, 1))
    connection.execute(
        text(
            "INSERT INTO sandbox_records (id, signup_id, activity_id, completion_date, "
            "first_name, last_name, birth_month, birth_day, state, license_or_npi, board, "
            "board_id, credit_awards, record_key, learner_key, is_pending, created_at) VALUES "
            "(:id, 1, '200012345', '2026-11-20', 'John', ' Smith', 1, 1, 'CA', :license, "
            "'ABIM', '777', '[]', :record_key, :learner_key, false, :at)"
        ),
        {"id": record_id, "license": license_or_npi, "at": at, "learner_key": old,
         "record_key": judge.key_digest(("john", "smith", 1, 1, "200012345", "2026-11-20",
                                         "ABIM"))},
    )  # fmt: skip


def test_sandbox_record_keys_tell_two_physicians_with_one_name_apart(empty_database_app):
    """0019: the keys of records already held are worked out again with the learner's
    identifiers, as the judge now keys the rows it compares them with; two physicians with
    one name and birthday get two keys. Downgrading gives the old keys back."""
    with empty_database_app.app_context():
        upgrade(revision="0018_walkthrough_started")
        at = datetime(2026, 11, 27, 8, tzinfo=UTC)
        with db.engine.begin() as connection:
            _insert_program(connection, at)
            _insert_signup(connection, 1, "waitlisted", "Clinic", "clinic", at)
            _insert_sandbox_record(connection, 1, "zz-111", at)
            _insert_sandbox_record(connection, 2, "QQ999", at)
            old_keys = connection.execute(
                text("SELECT record_key, learner_key FROM sandbox_records ORDER BY id")
            ).all()
        upgrade()
        with db.engine.connect() as connection:
            keys = connection.execute(
                text("SELECT record_key, learner_key FROM sandbox_records ORDER BY id")
            ).all()
        downgrade(revision="0018_walkthrough_started")
        with db.engine.connect() as connection:
            downgraded = connection.execute(
                text("SELECT record_key, learner_key FROM sandbox_records ORDER BY id")
            ).all()
    expected = []
    for license_or_npi in ("zz-111", "QQ999"):
        record = judge.LearnerRecord(
            "200012345", date(2026, 11, 20), "John", " Smith", 1, 1, "CA", license_or_npi,
            "ABIM", "777", None, None,
        )  # fmt: skip
        key = judge.record_key(record)
        expected.append((judge.record_digest(key), judge.learner_digest(key.learner)))
    assert [tuple(row) for row in keys] == expected
    assert expected[0] != expected[1]
    assert [tuple(row) for row in downgraded] == [tuple(row) for row in old_keys]


def test_look_alike_organization_keys_are_folded_unless_two_bookings_would_share_one(
    empty_database_app,
):
    """0020: keys already stored read look-alike letters (Cyrillic "Ѕ", dotless "ı"), "Æ",
    "St." and a trailing ", The" as the app now does; a booking that would then share its key
    with another active one keeps its old key, for staff to merge from the duplicates page."""
    with empty_database_app.app_context():
        upgrade(revision="0019_sandbox_learner_identity")
        at = datetime(2026, 11, 27, 8, tzinfo=UTC)
        with db.engine.begin() as connection:
            _insert_program(connection, at)
            signups = [
                (1, "waitlisted", "Sierra Valley Medical Society", "sierravalleymedicalsociety"),
                (
                    2,
                    "waitlisted",
                    "\u0405ierra Valley Medical Society",
                    "\u0455ierravalleymedicalsociety",
                ),
                (3, "waitlisted", "St. Agnes Clinic", "stagnesclinic"),
                (4, "cancelled", "\u00c6r\u00f8 Clinic", "\u00e6r\u00f8clinic"),
                (5, "waitlisted", "Permanente Group, The", "permanentegroupthe"),
            ]
            for signup_id, status, name, key in signups:
                _insert_signup(connection, signup_id, status, name, key, at)
        upgrade()
        with db.engine.connect() as connection:
            keys = connection.execute(
                text("SELECT id, organization_key FROM signups ORDER BY id")
            ).all()
    assert [tuple(row) for row in keys] == [
        (1, "sierravalleymedicalsociety"),
        (2, "\u0455ierravalleymedicalsociety"),  # would share signup 1's: left for staff
        (3, "saintagnesclinic"),
        (4, "aeroclinic"),
        (5, "permanentegroup"),
    ]


def test_after_0021_a_deleted_signups_id_is_never_given_again_and_nothing_else_is_lost(
    empty_database_app,
):
    with empty_database_app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PostgreSQL's sequences never give an id twice; 0021 leaves it alone")
        at = datetime(2026, 11, 20, tzinfo=UTC)
        upgrade(revision="0020_org_keys_look_alikes")
        with db.engine.begin() as connection:
            _insert_program(connection, at)
            _insert_signup(connection, 1, "waitlisted", "Alpha", "alpha", at)
            _insert_signup(connection, 2, "waitlisted", "Beta", "beta", at)
            connection.execute(
                text(
                    "INSERT INTO attendees (signup_id, email, position) "
                    "VALUES (1, 'a@alpha.example.org', 1)"
                )
            )
        indexes = _index_statements()

        upgrade(revision="0021_ids_never_reused")
        with db.engine.begin() as connection:
            # Rebuilding signups with its children's foreign keys on would have emptied them.
            assert connection.execute(text("SELECT signup_id FROM attendees")).all() == [(1,)]
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            connection.execute(text("DELETE FROM signups WHERE id = 2"))
            _insert_signup(connection, None, "waitlisted", "Gamma", "gamma", at)
            ids = connection.execute(text("SELECT id FROM signups ORDER BY id")).scalars().all()
        assert ids == [1, 3]
        assert _index_statements() == indexes

        downgrade(revision="0020_org_keys_look_alikes")
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM attendees")).scalar() == 1
        assert _index_statements() == indexes


def _index_statements() -> dict[str, str]:
    """Each SQLite index's CREATE statement, by name (a rebuild must keep them all as they were,
    partial ones' WHERE included)."""
    with db.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        )
        return dict(rows.all())


def test_waitlist_places_join_their_lines_when_the_organization_last_joined_them(
    empty_database_app,
):
    """0023: each chosen date's ``joined_at`` is filled in from what is known: when the signup
    was made, or later, when it joined the waitlist again from its manage link (audited)."""
    with empty_database_app.app_context():
        upgrade(revision="0020_org_keys_look_alikes")
        at = datetime(2026, 11, 27, 8, tzinfo=UTC)
        rejoined_at = at + timedelta(hours=2)
        with db.engine.begin() as connection:
            _insert_program(connection, at)
            connection.execute(
                text(
                    "INSERT INTO training_sessions (id, program_id, starts_at, ends_at, seats, "
                    "seats_booked, status, created_at) VALUES (1, 1, :starts, :ends, 0, 0, "
                    "'scheduled', :at)"
                ),
                {"starts": at + timedelta(days=5), "ends": at + timedelta(days=5, hours=1),
                 "at": at},
            )  # fmt: skip
            _insert_signup(connection, 1, "waitlisted", "Early Clinic", "earlyclinic", at)
            _insert_signup(
                connection, 2, "waitlisted", "Later Clinic", "laterclinic", at + timedelta(hours=1)
            )
            for signup_id in (1, 2):
                connection.execute(
                    text(
                        "INSERT INTO signup_choices (signup_id, rank, session_id) "
                        "VALUES (:id, 1, 1)"
                    ),
                    {"id": signup_id},
                )
            connection.execute(
                text(
                    "INSERT INTO audit_events (created_at, actor, action, program_id, "
                    "signup_id, details) VALUES (:at, 'organization (public page)', "
                    "'signup.waitlist_joined', 1, 1, '{}')"
                ),
                {"at": rejoined_at},
            )
        upgrade(revision="0023_waitlist_joined_at")
        with db.engine.connect() as connection:
            joined = dict(
                connection.execute(text("SELECT signup_id, joined_at FROM signup_choices")).all()
            )
            made = dict(connection.execute(text("SELECT id, created_at FROM signups")).all())
            rejoined = connection.execute(text("SELECT created_at FROM audit_events")).scalar()
    assert joined == {1: rejoined, 2: made[2]}  # the clinic that rejoined is now behind


def test_undoing_worker_processes_keeps_each_kinds_latest_heartbeat(empty_database_app):
    latest = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
    with empty_database_app.app_context():
        upgrade(revision="0025_worker_processes")
        with db.engine.begin() as connection:
            for host, pid, seen in (("a", 1, latest), ("b", 2, latest - timedelta(minutes=9))):
                connection.execute(
                    text(
                        "INSERT INTO worker_heartbeats (name, host, pid, last_seen_at) "
                        "VALUES ('mail', :host, :pid, :seen)"
                    ),
                    {"host": host, "pid": pid, "seen": seen},
                )
        downgrade(revision="0024_live_helped_at")
        columns = {column["name"] for column in inspect(db.engine).get_columns("worker_heartbeats")}
        with db.engine.connect() as connection:
            rows = connection.execute(text("SELECT name FROM worker_heartbeats")).all()
        assert columns == {"name", "last_seen_at"}
        assert rows == [("mail",)]
        upgrade()


def test_email_drafts_are_carried_into_the_drafts_table_and_back(empty_database_app):
    written = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    with empty_database_app.app_context():
        upgrade(revision="0026_email_drafts")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO staff_members (id, email, name, role, password_hash, "
                    "is_disabled, login_version, created_at) VALUES (1, 's@x.org', 'S', "
                    "'staff', 'h', false, 0, :at)"
                ),
                {"at": written},
            )
            connection.execute(
                text(
                    "INSERT INTO email_drafts (staff_member_id, session_ids, "
                    "is_waitlist_included, subject, body, created_at, sent_at) VALUES "
                    "(1, '3,5', true, 'Before Tuesday', 'Bring your file.', :at, :at)"
                ),
                {"at": written},
            )
        upgrade()
        with db.engine.connect() as connection:
            kind, staff_id, payload, used_at = connection.execute(
                text("SELECT kind, staff_member_id, payload, used_at FROM drafts")
            ).one()
        assert (kind, staff_id, used_at is not None) == ("staff_message", 1, True)
        assert json.loads(payload) == {
            "session_ids": [3, 5],
            "include_waitlist": True,
            "subject": "Before Tuesday",
            "body": "Bring your file.",
        }
        downgrade(revision="0026_email_drafts")
        with db.engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT staff_member_id, session_ids, is_waitlist_included, subject, body "
                    "FROM email_drafts"
                )
            ).one()
        assert tuple(row) == (1, "3,5", True, "Before Tuesday", "Bring your file.")
        upgrade()
