"""`dialects.streams`: the events and frames a dialect iterates come out of the native column
decoders a batch at a time (issue 11), and are the same as the row decoders' (which the dialects
read before): times from chunk offsets equal the chunk-fed decoder's, frames and decoder errors
equal `decode_eventstream`'s."""

from __future__ import annotations

import base64
import random
from pathlib import Path

import pytest
from fastcap import _native
from fastcap.dialects import registry, streams
from fastcap.model import Chunk, Exchange
from helpers import DATA
from helpers.big_streams import anthropic, bedrock

SSE_BODIES = sorted(p for p in (DATA / "sse").rglob("*") if p.suffix in (".sse", ".txt"))
FRAME_BODIES = sorted(p for p in (DATA / "eventstream").rglob("*") if p.is_file() and p.suffix != ".json")

# Odd bodies: CRLF and CR line ends (split across chunks too), comments, ids, an unterminated end.
ODD_SSE = [
    b"event: a\r\ndata: 1\r\n\r\n: note\r\nid: 7\r\ndata: 2\r\ndata: 3\r\n\r\ndata: tail",
    b"data: x\r\rdata: y\r\r\r",
    b"\xef\xbb\xbfdata: bom\n\nevent: only\n\ndata: [DONE]\n\n",
]


def random_chunks(body: bytes, rng: random.Random) -> list[int]:
    sizes: list[int] = []
    left = len(body)
    while left:
        size = min(left, rng.choice((1, 2, 3, 7, 64, 1000)))
        sizes.append(size)
        left -= size
    return sizes


def ends_and_times(sizes: list[int]) -> list[tuple[int, float | None]]:
    out: list[tuple[int, float | None]] = []
    end = 0
    for k, size in enumerate(sizes):
        end += size
        out.append((end, 100.0 + k))
    return out


@pytest.mark.parametrize("body", [p.read_bytes() for p in SSE_BODIES] + ODD_SSE)
def test_sse_events_and_their_times_equal_the_chunk_fed_decoder(body: bytes) -> None:
    rng = random.Random(len(body))
    for _ in range(3):
        sizes = random_chunks(body, rng)
        chunks = ends_and_times(sizes)
        expected = _native.sse_events(
            body, chunk_sizes=sizes, chunk_times=[t for _, t in chunks if t is not None]
        )
        got = list(streams.split_sse(body, chunks=chunks).events)
        assert [
            (e.index, e.type, e.data, e.last_event_id, e.byte_start, e.byte_end, e.terminated, e.is_done)
            for e in got
        ] == [
            (
                e["index"],
                e["type"],
                e["data"],
                e["last_event_id"],
                e["byte_start"],
                e["byte_end"],
                e["terminated"],
                e["is_done"],
            )
            for e in expected["events"]
        ]
        if not body.startswith(b"\xef\xbb\xbf"):  # the BOM moves byte_start by 3, not the line's time
            assert [(e.t_first, e.t_last) for e in got] == [
                (e["t_first_byte"], e["t_last_byte"]) for e in expected["events"]
            ]


def test_sse_events_iterate_in_bounded_batches_any_number_of_times() -> None:
    events = streams.SseEvents(anthropic(50_000))
    batches = list(events.batches(1000))
    assert len(events) == 50_007 == sum(len(b) for b in batches)
    assert max(len(b) for b in batches) == 1000
    assert [e.index for e in events] == list(range(50_007))  # again, from the start
    assert events.final_terminated


def test_an_unterminated_final_event_is_flagged() -> None:
    stream = streams.split_sse(b"data: 1\n\ndata: 2")
    assert stream.flags == {"unterminated_final_event"}
    assert [e.terminated for e in stream.events] == [True, False]


def frame_rows(frames: list[streams.Frame]) -> list[tuple[object, ...]]:
    """The frames' fields; a byte-array header as the base64 text `Frames` gives (documented)."""
    return [
        (
            f.offset,
            {k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in f.headers.items()},
            f.payload,
            f.total_length,
            f.message_type,
            f.event_type,
            f.exception_type,
        )
        for f in frames
    ]


def damaged(body: bytes) -> bytes:
    """`body` with two stretches of garbage (two decoder errors) and its last frame cut."""
    third = len(body) // 3
    return (
        body[:third] + b"garbage!" * 5 + body[third : 2 * third] + b"\x00\x01junk" * 9 + body[2 * third : -7]
    )


@pytest.mark.parametrize("body", [p.read_bytes() for p in FRAME_BODIES] + [damaged(bedrock(300))])
def test_frames_and_decoder_errors_equal_decode_eventstream(body: bytes) -> None:
    expected = streams.frames_from_result(_native.decode_eventstream(body, mode="resync"))
    got = streams.decode_frames(body)
    assert frame_rows(list(got.frames)) == frame_rows(list(expected.frames))
    assert (got.errors, got.truncated, got.corrupt, got.flags, got.notes) == (
        expected.errors,
        expected.truncated,
        expected.corrupt,
        expected.flags,
        expected.notes,
    )


def test_the_damaged_body_has_several_errors_and_a_cut_tail() -> None:
    fs = streams.decode_frames(damaged(bedrock(300)))
    assert len(fs.errors) >= 2 and fs.truncated is not None and fs.corrupt


def test_frame_times_are_those_of_the_chunk_that_completed_each_frame() -> None:
    body = bedrock(20)
    sizes = random_chunks(body, random.Random(3))
    chunks = ends_and_times(sizes)
    frames = list(streams.decode_frames(body, chunks=chunks).frames)
    for f in frames:
        assert f.offset is not None and f.total_length is not None
        last = f.offset + f.total_length - 1
        assert f.t == next(t for end, t in chunks if last < end)


def sse_exchange(body: bytes) -> Exchange:
    """A POST whose body arrived in two chunks, the first ending with the first event."""
    cut = body.index(b"\n\n") + 2
    return Exchange(
        index=0,
        source="body",
        method="POST",
        url="https://api.anthropic.com/v1/messages",
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        response_body=body,
        chunks=[Chunk(data=body[:cut], t=1.0), Chunk(data=body[cut:], t=2.0)],
    )


def test_events_to_hands_every_event_to_the_sink_and_keeps_none() -> None:
    ex = sse_exchange((DATA / "sse" / "anthropic" / "tool_use_response.txt").read_bytes())
    kept = registry.analyze_exchange(ex).response
    seen: list[tuple[str, str, float | None]] = []
    with streams.events_to(lambda etype, summary, t: seen.append((etype, summary, t))):
        sunk = registry.analyze_exchange(ex).response
    assert sunk.events == [] and kept.events
    assert seen == [(e.type, e.summary, e.t) for e in kept.events]
    assert sunk.event_counts == kept.event_counts and sunk.text == kept.text
    assert {t for _, _, t in seen} == {1.0, 2.0}
    assert streams.event_sink() is None  # restored on leaving


def test_a_body_file_decodes_as_before_with_the_event_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fastcap.cli import main

    body = tmp_path / "b.sse"
    body.write_bytes(b": only a comment\n\n")
    assert main(["decode", str(body), "--json", "--events"]) == 0
    out = capsys.readouterr().out
    assert out.endswith('  "notes": [],\n  "event_list": []\n}\n')
