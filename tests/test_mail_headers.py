"""Headers with non-ASCII text decode to exactly what was meant, judged on the bytes that arrive
at the loopback SMTP server: long names in many scripts, with spaces where lines fold."""

import re
import smtplib
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.utils import getaddresses, parseaddr

import pytest
from conftest import signup_form
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from mail_support import Received, SmtpSink

from training.mail.delivery import deliver_due
from training.mail.message import Envelope, build_message, to_bytes

SUBJECT = "You're booked: Tuesday, December 1, 10:00–11:30 AM ({name})"

# Letters (and marks) of the scripts organizations and people write their names in.
SCRIPTS = {
    "ascii": st.characters(codec="ascii", categories=("Lu", "Ll", "Nd")),
    "latin": st.characters(min_codepoint=0xC0, max_codepoint=0x24F, categories=("Lu", "Ll")),
    "greek": st.characters(min_codepoint=0x370, max_codepoint=0x3FF, categories=("Lu", "Ll")),
    "cyrillic": st.characters(min_codepoint=0x400, max_codepoint=0x4FF, categories=("Lu", "Ll")),
    "cjk": st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    "arabic": st.characters(min_codepoint=0x620, max_codepoint=0x64A, categories=("Lo",)),
    "emoji": st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF, categories=("So",)),
}
COMBINING_MARKS = st.characters(min_codepoint=0x300, max_codepoint=0x36F)
PUNCTUATION = st.sampled_from(["-", "'", "&", "/", "=", "?", "!"])


def word_in(script: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A word: letters of one script, each perhaps followed by combining marks."""
    letter = st.tuples(script, st.lists(COMBINING_MARKS, max_size=2)).map(
        lambda pair: pair[0] + "".join(pair[1])
    )
    return st.lists(letter, min_size=1, max_size=14).map("".join)


WORD = st.one_of(
    *(word_in(script) for script in SCRIPTS.values()),
    st.tuples(word_in(SCRIPTS["ascii"]), PUNCTUATION).map("".join),
)
# Names of one to fourteen words, one space apart (header text has no other spacing).
NAMES = st.lists(WORD, min_size=1, max_size=14).map(" ".join)

# What staff have seen come out garbled, and their kind in other scripts.
REAL_NAMES = [
    "Regional Continuing Medical Education Consortium of the Pacific Hôpital Genève",
    "University of the Pacific Hôpital Genève",
    "Ελληνική Εταιρεία Συνεχιζόμενης Ιατρικής Εκπαίδευσης Αθηνών και Πειραιώς",
    "Московский государственный медико-стоматологический университет имени А. И. Евдокимова",
    "東京大学医学部附属病院 卒後臨床研修センター 継続医学教育部門 生涯教育推進室",
    "東京大学医学部附属病院卒後臨床研修センター継続医学教育部門生涯教育推進室",
    "الجمعية السعودية للتعليم الطبي المستمر في الرياض والمنطقة الشرقية",
    "Clinic 🏥 of the Sun ☀️ and Stars ✨ Continuing Education 🩺 for 👩‍⚕️ Nurses",
    "Nun\u0303oa Cafe\u0301 Ho\u0302pital Gene\u0300ve Sante\u0301 Publique Re\u0301gionale",
    "Donaudampfschifffahrtsgesellschaftskapitänsfortbildungsakademieverwaltungsstelle",
    "Øresund Ærø Ålborg Łódź Kraków Świętokrzyskie Ďáblice Žďár nad Sázavou Clinic",
    "Clinic =?utf-8?q?Labs?= of the West",
]


@pytest.fixture(scope="module")
def sink():
    server = SmtpSink().start()
    yield server
    server.stop()


def envelope(subject: str, recipient: str, sender: str) -> Envelope:
    return Envelope(
        message_id="<headers@training.example.org>",
        date=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
        sender=sender,
        recipients=(recipient, "kim@sierravalley.example.org"),
        subject=subject,
        text_body="Hello",
        reply_to=sender.replace("no-reply@", "staff@"),
    )


def arrive(sink: SmtpSink, message: Envelope) -> Received:
    """Send ``message`` over SMTP to the sink and return what it received."""
    before = len(sink.received)
    with smtplib.SMTP("127.0.0.1", sink.port, local_hostname="localhost", timeout=10) as connection:
        connection.sendmail(
            parseaddr(message.sender)[1],
            [parseaddr(recipient)[1] for recipient in message.recipients],
            to_bytes(build_message(message)),
        )
    assert len(sink.received) == before + 1
    return sink.received[-1]


def unfold(value: str) -> str:
    """RFC 5322 unfolding: a line break followed by white space is only the white space."""
    return re.sub(r"\r?\n(?=[ \t])", "", value)


def decoded_subjects(data: bytes) -> tuple[str, str]:
    """The Subject as RFC 2047's decoder and as the email package's parser read it."""
    raw = message_from_bytes(data, policy=policy.compat32)["Subject"]
    parsed = message_from_bytes(data, policy=policy.default)["Subject"]
    return str(make_header(decode_header(unfold(raw)))), str(parsed)


def decoded_names(data: bytes, field: str) -> list[tuple[str, str]]:
    """Each (display name, address) of an address header: the addresses split as written,
    then each display name decoded by RFC 2047's rules (whitespace between adjacent encoded
    words is not part of the text)."""
    raw = message_from_bytes(data, policy=policy.compat32)[field]
    return [
        (str(make_header(decode_header(name))), address)
        for name, address in getaddresses([unfold(raw)])
    ]


def line_lengths(data: bytes) -> list[int]:
    head = data.split(b"\r\n\r\n", 1)[0]
    return [len(line) for line in head.split(b"\r\n")]


def assert_headers_decode_exactly(sink: SmtpSink, name: str, person: str, sender_name: str):
    subject = SUBJECT.format(name=name)
    received = arrive(
        sink,
        envelope(
            subject,
            f"{person} <ana@sierravalley.example.org>",
            f"{sender_name} <no-reply@training.example.org>",
        ),
    )
    assert decoded_subjects(received.data) == (subject, subject)
    assert decoded_names(received.data, "To") == [
        (person, "ana@sierravalley.example.org"),
        ("", "kim@sierravalley.example.org"),
    ]
    assert decoded_names(received.data, "From") == [(sender_name, "no-reply@training.example.org")]
    assert decoded_names(received.data, "Reply-To") == [(sender_name, "staff@training.example.org")]
    assert max(line_lengths(received.data)) <= 78


@pytest.mark.parametrize("name", REAL_NAMES)
def test_long_names_in_any_script_decode_to_exactly_what_was_meant(sink, name):
    assert_headers_decode_exactly(sink, name, person=name, sender_name=f"Training Desk {name}")


@pytest.mark.parametrize("padding", range(0, 30))
def test_a_space_where_the_subject_folds_is_kept_once(sink, padding):
    # Moves "Pacific Hôpital Genève" across every column where the first fold can fall.
    name = "x" * padding + " Medical Education Consortium of the Pacific Hôpital Genève"
    name = name.strip()
    assert_headers_decode_exactly(sink, name, person=name, sender_name="Training Desk")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=NAMES, person=NAMES, sender_name=NAMES)
def test_generated_names_in_many_scripts_decode_to_exactly_what_was_meant(
    sink, name, person, sender_name
):
    assert_headers_decode_exactly(sink, name, person, sender_name)


def test_the_worker_delivers_a_long_non_ascii_subject_that_decodes_exactly(
    app, client, runner, make_session
):
    sink = SmtpSink().start()
    try:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port)
        name = REAL_NAMES[0]
        response = client.post("/signup", data=signup_form(make_session(), organization_name=name))
        assert response.status_code == 303
        assert runner.invoke(args=["mail", "deliver"]).exit_code == 0
        [received] = sink.received
    finally:
        sink.stop()
    raw_subject, parsed_subject = decoded_subjects(received.data)
    assert raw_subject == parsed_subject
    assert raw_subject.startswith("You're booked: ")
    assert raw_subject.endswith(f"({name})")


@pytest.mark.parametrize("length", range(60, 100, 3))
def test_a_plain_subject_of_any_length_arrives_without_a_leading_space(sink, length):
    # "After your training: …" at 71 characters was folded straight after "Subject:".
    subject = ("After your training: your sandbox results and next steps (Golf " + "M" * 40)[
        :length
    ] + ")"
    received = arrive(
        sink,
        envelope(
            subject,
            "Ana Reyes <ana@sierravalley.example.org>",
            "Training Desk <no-reply@training.example.org>",
        ),
    )
    assert decoded_subjects(received.data) == (subject, subject)
    assert b"Subject:\r\n" not in received.data
    assert max(line_lengths(received.data)) <= 78


def test_domains_in_another_script_travel_in_ascii_in_the_envelope_ids_and_invite(
    app, client, make_session, smtp
):
    app.config["MAIL_DEFAULT_SENDER"] = "Training Desk <no-reply@hôpital.example.org>"
    form = signup_form(make_session(), attendee_emails="att@bücher.example")
    assert client.post("/signup", data=form).status_code == 303
    with app.app_context():
        deliver_due()
    [received] = smtp.received
    message = received.message
    assert received.mail_from == "no-reply@xn--hpital-ixa.example.org"
    assert re.fullmatch(r"<[0-9a-f]{32}@xn--hpital-ixa\.example\.org>", message["Message-ID"])
    [invite] = [
        Calendar.from_ical(part.get_payload(decode=True))
        for part in message.walk()
        if part.get_content_type() == "text/calendar" and part.get_filename()
    ]
    [event] = invite.walk("VEVENT")
    assert str(event["UID"]).endswith("@xn--hpital-ixa.example.org")
    assert str(event["ORGANIZER"]).lower() == "mailto:no-reply@xn--hpital-ixa.example.org"
    assert "mailto:att@xn--bcher-kva.example" in [
        str(attendee).lower() for attendee in event["ATTENDEE"]
    ]
    assert "att@xn--bcher-kva.example" in received.rcpt_tos
