"""Fixtures of the transcription service's tests: a NATS server of their own (so the
suite's processes, which answer the same subjects on the shared one, never take these
tests' requests) and a made-up meeting transcript."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from webinar_devstack.servers import start_nats


@pytest.fixture(scope="module")
def private_nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data: Path = tmp_path_factory.mktemp("private-nats")
    server = start_nats(data / "nats", log_path=data / "nats.log")
    yield f"nats://127.0.0.1:{server.port}"
    server.stop()


# A made-up product meeting of four speakers, as live captions would store it: fillers,
# a late joiner, a point said twice in almost the same words, and an off-topic remark.

_RELEASE_MEETING: list[tuple[str, str]] = [
    ("Priya", "Okay, can everyone hear me?"),
    ("Marco", "Yes."),
    ("Lena", "Loud and clear."),
    ("Priya", "Great, thanks for joining. Today we have to fix the release date for version two and decide who owns "
              "the migration testing."),
    ("Marco", "Sure. The build has been green since Tuesday, and the only blocker left is the login timeout bug."),
    ("Lena", "I can take the login timeout bug. I expect a fix to be ready by Wednesday afternoon."),
    ("Priya", "Good. Then I propose we ship version two to all customers next Friday, after the migration tests."),
    ("Marco", "Hmm, okay."),
    ("Marco", "Friday works for me, as long as the migration tests pass on staging first."),
    ("Sam", "Sorry I'm late, my train was delayed."),
    ("Priya", "No problem, Sam. We just agreed to ship version two to all customers next Friday, after the "
              "migration tests."),
    ("Sam", "Who is running the migration tests on the staging database?"),
    ("Marco", "I will run the migration tests on the staging database on Thursday morning and post the results "
              "in the release channel."),
    ("Sam", "Then I will prepare the rollback script for the database migration, just in case."),
    ("Priya", "Perfect. Let's also send the customer announcement on Thursday evening."),
    ("Priya", "Lena, can you draft the customer announcement?"),
    ("Lena", "Yes, I'll draft the customer announcement and share it with everyone on Wednesday."),
    ("Sam", "By the way, the coffee machine on the third floor is broken again."),
    ("Marco", "Right."),
    ("Priya", "One open question is whether the mobile app needs a forced update for version two."),
    ("Sam", "I think the mobile team should answer that, I'll ask them today."),
    ("Priya", "To sum up: Lena fixes the login timeout bug and drafts the announcement, Marco runs the migration "
              "tests, Sam prepares the rollback script and asks the mobile team."),
    ("Lena", "Okay. Bye!"),
    ("Marco", "Bye."),
]  # fmt: skip

_NEAR_DUPLICATES = (
    "Then I propose we ship version two to all customers next Friday, after the migration tests.",
    "We just agreed to ship version two to all customers next Friday, after the migration tests.",
)


@pytest.fixture
def release_meeting() -> list[tuple[str, str]]:
    return list(_RELEASE_MEETING)


@pytest.fixture
def near_duplicates() -> tuple[str, str]:
    return _NEAR_DUPLICATES
