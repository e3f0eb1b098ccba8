"""What a caption worker transcribes next: final lines first and never dropped, meetings
in turn, partials only for each meeting's current speaker and dropped when behind."""

import asyncio
import threading

from transcription.captions.scheduler import CaptionScheduler

A, B = ("t1", "meeting-a"), ("t1", "meeting-b")


def collect(into: list[str], label: str):  # type: ignore[no-untyped-def]
    return lambda text: into.append(f"{label}:{text}")


def test_meetings_take_turns_so_one_burst_does_not_hold_up_another() -> None:
    scheduler = CaptionScheduler(lambda audio: "")
    done: list[str] = []
    for number in range(1, 6):
        scheduler.add_final("a1", A, number, b"\0\0", collect(done, f"a{number}"))
    scheduler.add_final("b1", B, 1, b"\0\0", collect(done, "b1"))
    order = []
    while (job := scheduler.next_job()) is not None:
        order.append((job.stream, job.number))
    assert order == [("a1", 1), ("b1", 1), ("a1", 2), ("a1", 3), ("a1", 4), ("a1", 5)]


def test_finals_come_before_partials_and_only_the_current_speakers_partial_runs() -> None:
    scheduler = CaptionScheduler(lambda audio: "")
    scheduler.speaker_started("a1", A)
    scheduler.speaker_started("a2", A)  # a2 spoke last: it is meeting A's current speaker
    scheduler.want_partial("a1", A, 1, b"x", lambda text: None)
    scheduler.want_partial("a2", A, 1, b"y", lambda text: None)
    scheduler.add_final("a1", A, 1, b"z", lambda text: None)
    first, second = scheduler.next_job(), scheduler.next_job()
    assert first is not None
    assert first.final
    assert first.stream == "a1"
    assert second is not None
    assert not second.final
    assert second.stream == "a2"
    assert scheduler.next_job() is None


async def test_a_worker_that_falls_behind_drops_partials_never_finals_and_counts_them() -> None:
    release = threading.Event()
    heard: list[str] = []

    def slow_engine(audio: bytes) -> str:
        release.wait(5)
        return audio.decode()

    scheduler = CaptionScheduler(slow_engine)
    runner = asyncio.create_task(scheduler.run())
    try:
        scheduler.speaker_started("a1", A)
        scheduler.add_final("a1", A, 1, b"first line", collect(heard, "final"))
        await asyncio.sleep(0.05)  # the engine is busy with it
        for second in range(2, 6):  # the speaker goes on: a partial each second, none can run
            scheduler.want_partial("a1", A, 2, b"partial %d" % second, collect(heard, "partial"))
        scheduler.add_final("a1", A, 2, b"second line", collect(heard, "final"))
        release.set()
        async with asyncio.timeout(5):
            while scheduler.waiting_finals or scheduler.busy or len(heard) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    finally:
        runner.cancel()
        scheduler.close()
    assert heard == ["final:first line", "final:second line"]
    assert scheduler.counts.partials_dropped == 4
    assert scheduler.counts.finals == 2
