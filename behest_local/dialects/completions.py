"""Legacy ``POST /v1/completions`` served through chat completions.

Flow: the server calls ``validate_completions_request`` (400s come from here), renders
``prompts(body)`` once, then, for each prompt, ``to_chat_request(body, index, prompt=text)``
and runs that chat request through routing and a provider. A list holds at most 2,048
prompts (OpenAI's limit), so one request is at most 2,048 chat calls. Each whole ``chat.completion`` becomes a
``text_completion`` via ``from_chat_completion``, and ``merge_completions`` joins one per
prompt into the response body. When streaming, one ``CompletionsStreamTranslator`` per
prompt turns chat chunks into ``text_completion`` chunks (providers.md §2: the streamed
and whole objects share one shape, ``object: "text_completion"``).

What chat cannot express (providers.md §2: "echo, suffix, best_of and int logprobs have
no equivalent"):

- ``echo`` is emulated here: the prompt is prepended to each choice's text.
- ``logprobs`` (int 0–5) is accepted; every choice answers ``logprobs: null``.
- ``suffix`` and ``best_of`` are validated and accepted but not emulated: the model
  generates ``n`` plain continuations.
- Token-id prompts (``[int]`` / ``[[int]]``) cannot be decoded without the upstream
  model's tokenizer, so they are sent as the text of the ids joined by single spaces
  (``[1212, 318]`` → ``"1212 318"``); the prompt is still answered, just not as the
  tokens would have read.
"""

from __future__ import annotations

from typing import Any

from behest_local.dialects.checks import (
    check_bool,
    check_int,
    check_number,
    check_object,
    check_str,
    check_stream_options,
    first_negative,
    is_int,
    item_types,
    is_number,
    reject_unknown,
    require_body_object,
    token_text,
    wrong_type,
)
from behest_local.errors import InvalidRequestError

# CompletionCreateParams (openai-python 3.57) plus `stream`.
_KNOWN_FIELDS = frozenset(
    {
        "model", "prompt", "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs",
        "max_tokens", "n", "presence_penalty", "seed", "stop", "stream", "stream_options",
        "suffix", "temperature", "top_p", "user",
    }
)  # fmt: skip

# Chat parameters with the same name and meaning.
_CARRIED = ("model", "max_tokens", "temperature", "top_p", "n", "stop", "presence_penalty",
            "frequency_penalty", "logit_bias", "seed", "user", "stream_options")  # fmt: skip

DEFAULT_MAX_TOKENS = 16  # providers.md §2: legacy completions default to 16 tokens
MAX_PROMPTS = 2048  # OpenAI's limit on a list of prompts; each is one chat call here
_MAX_STOP_SEQUENCES = 4
_FINISH_REASONS = ("stop", "length", "content_filter")


def validate_completions_request(body: Any) -> dict:
    """Check a ``/v1/completions`` body; return a shallow copy with ``max_tokens`` filled in.

    Raises ``InvalidRequestError`` (400) naming the offending field in ``param``.
    """
    body = require_body_object(body)
    reject_unknown(body, _KNOWN_FIELDS)
    if body.get("prompt") is None:
        raise InvalidRequestError("Missing required parameter: 'prompt'.", param="prompt")
    _check_prompt(body["prompt"])
    for key in ("model", "suffix", "user"):
        check_str(body.get(key), key)
    for key in ("stream", "echo"):
        check_bool(body.get(key), key)
    check_int(body.get("max_tokens"), "max_tokens", minimum=1)
    check_int(body.get("n"), "n", minimum=1, maximum=128)
    check_int(body.get("best_of"), "best_of", minimum=1, maximum=20)
    check_int(body.get("logprobs"), "logprobs", minimum=0, maximum=5)
    check_int(body.get("seed"), "seed")
    check_number(body.get("temperature"), "temperature", minimum=0, maximum=2)
    check_number(body.get("top_p"), "top_p", minimum=0, maximum=1)
    check_number(body.get("presence_penalty"), "presence_penalty", minimum=-2, maximum=2)
    check_number(body.get("frequency_penalty"), "frequency_penalty", minimum=-2, maximum=2)
    _check_logit_bias(body.get("logit_bias"))
    _check_stop(body.get("stop"))
    check_stream_options(body.get("stream_options"), body.get("stream"), ("include_usage", "include_obfuscation"))
    best_of, n = body.get("best_of"), body.get("n") or 1
    if best_of is not None:
        # OpenAI's rules for best_of: it must be >= n and it cannot stream.
        if best_of < n:
            raise InvalidRequestError("best_of must be greater than or equal to n.", param="best_of")
        if body.get("stream") and best_of > 1:
            raise InvalidRequestError("best_of cannot be used with stream.", param="best_of")
    validated = dict(body)
    if validated.get("max_tokens") is None:
        validated["max_tokens"] = DEFAULT_MAX_TOKENS
    return validated


def prompts(body: dict) -> list[str]:
    """The prompts of a validated body as text, one per completion to run.

    ``str`` and ``[int]`` are one prompt; ``[str]`` and ``[[int]]`` are one per element.
    Token ids become the ids joined by spaces (see the module docstring).
    """
    prompt = body["prompt"]
    if isinstance(prompt, str):
        return [prompt]
    if is_int(prompt[0]):  # validated: then every item is a token id
        return [token_text(prompt)]
    return [p if isinstance(p, str) else token_text(p) for p in prompt]


def _prompt(body: dict, prompt_index: int, prompt: str | None) -> str:
    # Rendering every prompt to pick one is linear: a caller running them all passes each
    # one's text, or the request becomes quadratic in its number of prompts.
    return prompt if prompt is not None else prompts(body)[prompt_index]


def to_chat_request(body: dict, prompt_index: int = 0, *, prompt: str | None = None) -> dict:
    """The chat request for prompt ``prompt_index`` (whose text is ``prompt``, when the
    caller has ``prompts(body)`` already): one user message plus carried params."""
    chat: dict = {"messages": [{"role": "user", "content": _prompt(body, prompt_index, prompt)}]}
    for key in _CARRIED:
        if body.get(key) is not None:
            chat[key] = body[key]
    chat.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
    if body.get("stream"):
        chat["stream"] = True
    else:
        chat.pop("stream_options", None)
    return chat


def from_chat_completion(
    completion: dict,
    *,
    request: dict,
    completion_id: str,
    created: int,
    prompt_index: int = 0,
    model: str | None = None,
    prompt: str | None = None,
) -> dict:
    """A whole ``chat.completion`` for prompt ``prompt_index`` → a ``text_completion``.

    Choice ``i`` becomes index ``prompt_index * n + i`` (OpenAI's numbering for several
    prompts). With ``echo``, the prompt (``prompt``, when the caller has its text) is
    prepended to each text.
    """
    n = request.get("n") or 1
    prefix = _prompt(request, prompt_index, prompt) if request.get("echo") else ""
    choices = [
        {
            "text": prefix + ((choice.get("message") or {}).get("content") or ""),
            "index": prompt_index * n + choice.get("index", 0),
            "logprobs": None,
            "finish_reason": _finish_reason(choice.get("finish_reason")),
        }
        for choice in completion.get("choices") or []
    ]
    result = {
        "id": completion_id,
        "object": "text_completion",
        "created": created,
        "model": model if model is not None else completion.get("model", request.get("model", "")),
        "choices": choices,
        "usage": completion.get("usage"),
    }
    if completion.get("system_fingerprint") is not None:
        result["system_fingerprint"] = completion["system_fingerprint"]
    return result


def merge_completions(parts: list[dict]) -> dict:
    """Join the per-prompt ``text_completion``s of one request into the response body.

    ``id``, ``created``, ``model`` come from the first part; choices are ordered by index;
    usage is summed (None if no part reported any).
    """
    if not parts:
        raise ValueError("merge_completions needs at least one completion")
    merged = dict(parts[0])
    merged["choices"] = sorted((c for p in parts for c in p["choices"]), key=lambda c: c["index"])
    usages = [p["usage"] for p in parts if p.get("usage")]
    merged["usage"] = sum_usage(usages) if usages else None
    return merged


def sum_usage(usages: list[dict]) -> dict:
    """Add usage objects field by field, nested detail objects included."""
    total: dict = {}
    for usage in usages:
        for key, value in usage.items():
            if isinstance(value, dict):
                total[key] = sum_usage([total.get(key) or {}, value])
            elif is_number(value):
                total[key] = (total.get(key) or 0) + value
            elif key not in total:
                total[key] = value
    return total


class CompletionsStreamTranslator:
    """Chat completion chunks for one prompt → ``text_completion`` chunks.

    ``feed(chunk)`` returns the chunks to send (possibly none: the chat stream's opening
    role-only chunk has no text); ``prompt`` is the prompt's text for ``echo``, when the
    caller has it. A usage chunk passes through with ``choices: []``
    (§1.4 ``include_usage``) and its usage is kept in ``usage``. A server streaming
    several prompts passes ``emit_usage=False`` to every translator and sends one
    ``usage_chunk(..., sum_usage(...))`` at the end, as OpenAI sends one per request.
    """

    def __init__(
        self,
        *,
        request: dict,
        completion_id: str,
        created: int,
        model: str,
        prompt_index: int = 0,
        emit_usage: bool = True,
        prompt: str | None = None,
    ) -> None:
        self._id = completion_id
        self._created = created
        self._model = model
        self._n = request.get("n") or 1
        self._offset = prompt_index * self._n
        self._echo = _prompt(request, prompt_index, prompt) if request.get("echo") else None
        self._echoed: set[int] = set()
        self._emit_usage = emit_usage
        self.usage: dict | None = None

    def feed(self, chunk: dict) -> list[dict]:
        """Translate one chat chunk into zero or more ``text_completion`` chunks."""
        out: list[dict] = []
        choices = []
        for choice in chunk.get("choices") or []:  # may be [] or null (§1.4)
            index = choice.get("index", 0)
            text = (choice.get("delta") or {}).get("content") or ""
            if self._echo is not None and index not in self._echoed:
                self._echoed.add(index)
                text = self._echo + text
            finish = choice.get("finish_reason")
            if not text and not finish:
                continue
            choices.append(
                {
                    "text": text,
                    "index": self._offset + index,
                    "logprobs": None,
                    "finish_reason": _finish_reason(finish) if finish else None,
                }
            )
        if choices:
            out.append(self._chunk(choices, chunk))
        if chunk.get("usage"):
            self.usage = chunk["usage"]
            if self._emit_usage:
                out.append(usage_chunk(self._id, self._created, self._model, chunk["usage"]))
        return out

    def _chunk(self, choices: list[dict], source: dict) -> dict:
        result = {
            "id": self._id,
            "object": "text_completion",
            "created": self._created,
            "model": self._model,
            "choices": choices,
        }
        if "usage" in source:  # include_usage streams send `usage: null` on every other chunk
            result["usage"] = None
        if source.get("system_fingerprint") is not None:
            result["system_fingerprint"] = source["system_fingerprint"]
        return result


def usage_chunk(completion_id: str, created: int, model: str, usage: dict) -> dict:
    """The final ``include_usage`` chunk: ``choices: []`` and the request's usage."""
    return {
        "id": completion_id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage,
    }


# --------------------------------------------------------------------------- helpers


def _finish_reason(reason: str | None) -> str:
    # Legacy completions only know stop | length | content_filter (§2); a chat-only
    # reason such as tool_calls cannot arise without tools and maps to stop.
    return reason if reason in _FINISH_REASONS else "stop"




def _check_prompt(prompt: Any) -> None:
    # providers.md §2: prompt is str | [str] | [int] | [[int]]. Token arrays are checked
    # with C-level passes (``checks.item_types``): a 20 MiB body holds millions of ids.
    if isinstance(prompt, str):
        return
    if not isinstance(prompt, list):
        raise wrong_type("prompt", "a string, an array of strings or an array of token arrays", prompt)
    if not prompt:
        raise InvalidRequestError("Invalid 'prompt': empty array. Expected at least one prompt.", param="prompt")
    kinds = item_types(prompt)
    if kinds == {int}:
        _check_tokens(prompt, "prompt")
        return
    if kinds == {str} or kinds == {list}:
        if len(prompt) > MAX_PROMPTS:
            raise InvalidRequestError(
                f"Invalid 'prompt': array too long. Expected an array with maximum length {MAX_PROMPTS}, "
                f"but got an array with length {len(prompt)} instead.", param="prompt")
        if kinds == {list}:
            for i, tokens in enumerate(prompt):
                if not tokens or item_types(tokens) != {int}:
                    raise InvalidRequestError(
                        f"Invalid 'prompt[{i}]': expected a non-empty array of token ids.", param=f"prompt[{i}]"
                    )
                _check_tokens(tokens, f"prompt[{i}]")
        return
    raise InvalidRequestError(
        "Invalid 'prompt': expected a string, an array of strings, an array of token ids or an array of "
        "token-id arrays, not a mixture.",
        param="prompt",
    )


def _check_tokens(tokens: list[int], param: str) -> None:
    i = first_negative(tokens)
    if i is not None:
        raise InvalidRequestError(f"Invalid '{param}[{i}]': token ids cannot be negative.", param=f"{param}[{i}]")


def _check_stop(stop: Any) -> None:
    if stop is None or isinstance(stop, str):
        return
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise wrong_type("stop", "a string or an array of strings", stop)
    if len(stop) > _MAX_STOP_SEQUENCES:
        raise InvalidRequestError(
            f"Invalid 'stop': array too long. Expected at most {_MAX_STOP_SEQUENCES} sequences, "
            f"but got {len(stop)} instead.",
            param="stop",
        )


def _check_logit_bias(bias: Any) -> None:
    check_object(bias, "logit_bias")
    for key, value in (bias or {}).items():
        if not is_number(value) or not -100 <= value <= 100:
            raise InvalidRequestError(
                f"Invalid 'logit_bias.{key}': expected a number between -100 and 100.", param=f"logit_bias.{key}"
            )


__all__ = [
    "DEFAULT_MAX_TOKENS",
    "MAX_PROMPTS",
    "CompletionsStreamTranslator",
    "from_chat_completion",
    "merge_completions",
    "prompts",
    "sum_usage",
    "to_chat_request",
    "usage_chunk",
    "validate_completions_request",
]
