"""Putting ranks' lines back together from a launcher's tagged output."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azml.targets.local.logs import copy_log, demux, last_line, render, tail_offset
from azml.targets.local.logsink import LogSink

MPIRUN = (
    "[1,0]<stdout>:rank 0 of 2\n"
    "[1,1]<stdout>:rank[1,0]<stderr>:warning from 0\n"
    "[1,1]<stdout>: 1 of 2\n"
    "mpirun noticed that process rank 1 exited on signal 9\n"
)


def test_mpirun_chunks_cut_mid_line_are_joined() -> None:
    assert list(demux(MPIRUN)) == [
        (0, "rank 0 of 2"),
        (0, "warning from 0"),
        (1, "rank 1 of 2"),
        (-1, "mpirun noticed that process rank 1 exited on signal 9"),
    ]


def test_torchrun_tee_prefixes() -> None:
    text = "launcher banner\n[default0]:hello\n[default1]:world\n"
    assert list(demux(text)) == [(-1, "launcher banner"), (0, "hello"), (1, "world")]


def test_render_and_split(tmp_path: Path) -> None:
    sink = LogSink(tmp_path / "step.log", True, lambda text: text)
    sink.feed(MPIRUN.encode())
    sink.close()
    assert sorted(p.name for p in tmp_path.glob("rank.*.log")) == ["rank.0.log", "rank.1.log"]
    assert (tmp_path / "rank.1.log").read_text() == "rank 1 of 2\n"
    assert (tmp_path / "step.log").read_text().splitlines()[2] == "[rank 1] rank 1 of 2"
    assert last_line(tmp_path / "step.log") == (
        "[launcher] mpirun noticed that process rank 1 exited on signal 9")
    assert render([(3, "x")]) == "[rank 3] x\n"


@pytest.mark.parametrize("ending", ["", "\n"])
def test_tail_and_copy_stream_in_blocks(tmp_path: Path, ending: str) -> None:
    log = tmp_path / "step.log"
    lines = [f"line {i} " + "x" * (i % 97) for i in range(20000)]
    log.write_text("\n".join(lines) + ending)
    for n in (0, 1, 3, 19999, 20000, 50000):
        out = io.StringIO()
        copy_log(log, out, str.upper, tail_offset(log, n))
        shown = out.getvalue().splitlines()
        assert shown == [line.upper() for line in lines[len(lines) - min(n, len(lines)):]]


LINE = st.text(alphabet="abc xyz:<>", min_size=0, max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.integers(0, 3), st.tuples(st.lists(LINE, min_size=1, max_size=4),
                                                   st.integers(1, 6)), min_size=1),
       st.randoms(use_true_random=False))
def test_any_chunking_and_interleaving_gives_each_rank_its_lines_back(ranks: dict, rnd) -> None:
    """Ranks write whole lines in chunks cut anywhere; chunks of ranks interleave freely."""
    queues: dict[int, list[str]] = {}
    for rank, (lines, cut) in ranks.items():
        text = "".join(line + "\n" for line in lines)
        tag = f"[1,{rank}]<stdout>:"
        chunks = []
        for start in range(0, len(text), cut):
            chunk = text[start:start + cut]
            # mpirun tags the start of a chunk and every line that starts inside it
            inner = chunk[:-1].replace("\n", "\n" + tag) + chunk[-1]
            chunks.append(tag + inner)
        queues[rank] = chunks
    stream = []
    while any(queues.values()):
        rank = rnd.choice([r for r, q in queues.items() if q])
        stream.append(queues[rank].pop(0))
    got: dict[int, list[str]] = {}
    for rank, line in demux("".join(stream)):
        got.setdefault(rank, []).append(line)
    assert got == {rank: lines for rank, (lines, _) in ranks.items()}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), LINE, st.booleans()), min_size=1, max_size=30),
       st.lists(st.integers(1, 40), min_size=1, max_size=10))
def test_the_sink_writes_what_the_demuxer_says_however_the_output_is_cut(
        tmp_path_factory, lines: list, cuts: list[int]) -> None:
    """Whole tagged lines, launcher lines and ranks cut mid-line, fed in arbitrary chunks."""
    text = "".join((f"[1,{rank}]<stdout>:" if tagged else "") + line + "\n"
                   for rank, line, tagged in lines)
    folder = tmp_path_factory.mktemp("sink")
    sink = LogSink(folder / "step.log", True, lambda t: t)
    data, position, index = text.encode(), 0, 0
    while position < len(data):
        step = cuts[index % len(cuts)]
        sink.feed(data[position:position + step])
        position, index = position + step, index + 1
    sink.close()
    pairs = list(demux(text))
    assert (folder / "step.log").read_text() == render(pairs)
    for rank in {r for r, _ in pairs if r >= 0}:
        expected = "".join(t + "\n" for r, t in pairs if r == rank)
        assert (folder / f"rank.{rank}.log").read_text() == expected


def test_showing_and_writing_a_large_log_takes_bounded_memory(tmp_path: Path) -> None:
    """Memory is counted (tracemalloc), not timed: 24 MiB pass through in blocks."""
    import tracemalloc

    line = b"[1,0]<stdout>:" + b"y" * 100 + b"\n[1,1]<stdout>:" + b"z" * 100 + b"\n"
    chunk = line * 300
    tracemalloc.start()
    try:
        sink = LogSink(tmp_path / "step.log", True, lambda text: text)
        for _ in range((24 << 20) // len(chunk)):
            sink.feed(chunk)
        sink.close()
        _, sink_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with open(os.devnull, "w") as out:
            copy_log(tmp_path / "step.log", out, lambda text: text,
                     tail_offset(tmp_path / "step.log", 10**9))
        _, show_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (tmp_path / "step.log").stat().st_size > 20 << 20
    assert sink_peak < 8 << 20 and show_peak < 8 << 20, (sink_peak, show_peak)
