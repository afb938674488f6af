"""POST /v1/chat/completions: the answer pipeline behind OpenAI's chat API, so any OpenAI client
works. The text carries [n] markers and ends with a source list; `citations` holds them structured."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.deps import Guarded, caller, loaded_engine
from api.errors import ERRORS, NoQuestion
from api.schemas import ChatIn, ChatMessage
from api.streaming import AnswerRun, answer_whole
from rag.llm.base import Message
from rag.render import answer_json, passages_text, sources_text
from rag.types import Answer, Delta, Done, Passages

router = APIRouter()
log = logging.getLogger("api")


def split_messages(messages: list[ChatMessage]) -> tuple[str, list[Message]]:
    """The last user message is the question; earlier user and assistant turns are the history."""
    turns = [(m.role, m.text()) for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user" or not turns[-1][1].strip():
        raise NoQuestion("the last message must be a non-empty user message")
    return turns[-1][1], [Message(role, text) for role, text in turns[:-1]]


def _usage(answer: Answer) -> dict[str, int]:
    p, c = answer.usage.prompt_tokens, answer.usage.completion_tokens
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


@router.post(
    "/v1/chat/completions",
    responses={
        **ERRORS,
        200: {
            "description": "a chat.completion object; with stream=true a text/event-stream of chat.completion.chunk",
            "content": {"application/json": {}, "text/event-stream": {"example": "data: {...}\n\ndata: [DONE]\n\n"}},
        },
    },
    tags=["openai"],
)
async def chat_completions(body: ChatIn, request: Request, svc: Guarded) -> Any:
    """OpenAI-compatible chat completion (streaming or not) answered from the archive."""
    loaded_engine(svc)  # a missing index is a 503 before any streaming starts
    question, history = split_messages(body.messages)
    ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    if body.stream:
        who = caller(request)
        svc.queue.check(who)
        run = AnswerRun(svc, question, history, None, who)
        return StreamingResponse(_chunks(run, ident, created, body.model), media_type="text/event-stream")
    answer = await answer_whole(svc, request, question, history, None)
    content = passages_text(answer.passages) + answer.answer + sources_text(answer, answer.language)
    return {
        "id": ident,
        "object": "chat.completion",
        "created": created,
        "model": body.model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": _usage(answer),
        "citations": answer_json(answer)["citations"],
        "answer_id": answer.id,  # for POST /v1/feedback
    }


async def _chunks(run: AnswerRun, ident: str, created: int, model: str) -> AsyncIterator[str]:
    """The answer's events as chat.completion.chunk objects: the text, the key passage and the source
    list as content, then a last chunk with usage and citations; a failure ends the text with a note."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}  # fmt: skip
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    streamed = ""
    try:
        yield chunk({"role": "assistant", "content": ""})
        async with aclosing(run.events()) as events:  # a departure closes this body, and so the answer
            async for event in events:
                if isinstance(event, Passages):
                    yield chunk({"content": passages_text(event.quotes)})
                elif isinstance(event, Delta):
                    streamed += event.text
                    yield chunk({"content": event.text})
                elif isinstance(event, Done):
                    answer = event.answer
                    rest = answer.answer[len(streamed) :] if answer.answer.startswith(streamed) else answer.answer
                    tail = rest + sources_text(answer, answer.language)
                    if tail:
                        yield chunk({"content": tail})
                    citations = answer_json(answer)["citations"]
                    yield chunk({}, "stop", usage=_usage(answer), citations=citations, answer_id=answer.id)
    except Exception:
        log.exception("chat completion stream failed")
        yield chunk({"content": "\n\n(the answer failed; try again)"}, "stop")
    yield "data: [DONE]\n\n"
