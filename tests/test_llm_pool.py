"""Several LLM servers behind one LLM: least busy first, a failing one rested and its request retried
elsewhere before any token reached the reader, never after."""

from __future__ import annotations

import threading

import pytest

from rag.llm.base import LLMFailed, LLMUnavailable, Message, Usage
from rag.llm.pool import UpstreamPool
from tests.fakes import ScriptedLLM

ASK = [Message("user", "[1] (2025-01-01)\n外観検査AIで工数を42%削減しました。\n\nQuestion: 工数は？\n")]


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def text(pool: UpstreamPool) -> str:
    return "".join(x for x in pool.stream(ASK) if not isinstance(x, Usage))


def test_a_request_goes_to_the_upstream_with_the_fewest_in_flight() -> None:
    slow, other = ScriptedLLM("a:quote"), ScriptedLLM("b:quote")
    slow.read_s = 0.5
    pool = UpstreamPool([slow, other])
    busy = threading.Thread(target=lambda: text(pool))
    busy.start()
    while pool.states()[0]["in_flight"] == 0:  # the first request took the first upstream
        pass
    text(pool)
    busy.join()
    assert len(slow.prompts) == 1 and len(other.prompts) == 1


def test_a_failure_before_the_first_token_is_retried_elsewhere_and_the_upstream_rested() -> None:
    clock = Clock()
    broken, good = ScriptedLLM("a:fail"), ScriptedLLM("b:quote")
    pool = UpstreamPool([broken, good], clock=clock)
    assert "42%" in text(pool)
    state = pool.states()[0]
    assert state["up"] is False and state["failed"] == 1 and state["back_in_s"] == 5.0
    text(pool)
    assert len(broken.prompts) == 1  # rested: the next request went straight to the other
    clock.now += 5.0
    text(pool)
    assert len(broken.prompts) == 2  # back after its pause (and failing again, so out for longer)
    assert pool.states()[0]["back_in_s"] == 10.0


def test_a_failure_after_the_first_token_is_not_restarted_elsewhere() -> None:
    midway, good = ScriptedLLM("a:failmid"), ScriptedLLM("b:quote")
    pool = UpstreamPool([midway, good])
    seen: list[str] = []
    with pytest.raises(LLMFailed):
        for x in pool.stream(ASK):
            if isinstance(x, str):
                seen.append(x)
    assert seen and good.prompts == []  # the reader has text from the first: no second answer after it


def test_when_every_upstream_fails_the_answer_says_none_could() -> None:
    pool = UpstreamPool([ScriptedLLM("a:fail"), ScriptedLLM("b:fail")])
    with pytest.raises(LLMUnavailable, match="no LLM upstream could answer"):
        text(pool)


def test_a_reader_who_leaves_does_not_rest_the_upstream() -> None:
    pool = UpstreamPool([ScriptedLLM("a:quote"), ScriptedLLM("b:quote")])
    stream = pool.stream(ASK)
    next(stream)
    stream.close()
    assert [s["up"] for s in pool.states()] == [True, True] and pool.states()[0]["in_flight"] == 0
