"""A minimal OpenAI-compatible chat-completions client (vLLM, SGLang, TGI, OpenAI) on the standard library.

No extra dependency: ``urllib`` + ``json``. Images travel as base64 PNG ``data:`` URLs in ``image_url`` content
parts, which vLLM and SGLang accept for vision models. Connection failures, timeouts, HTTP 429 and 5xx are
retried with exponential backoff; other HTTP errors (400, 401, 404, ...) fail at once. Every failure is an
:class:`EndpointError` that names the URL and, for HTTP errors, the status and the start of the body.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

RETRYABLE_STATUS = (408, 409, 429, 500, 502, 503, 504)


class EndpointError(RuntimeError):
    """The chat-completions endpoint could not be reached or gave an unusable answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def normalize_base_url(base_url: str) -> str:
    """``http://host:8000`` -> ``http://host:8000/v1``; a trailing ``/chat/completions`` or ``/`` is removed.
    A URL with a path other than that is kept as given (e.g. ``https://host/openai/v1``)."""
    url = base_url.strip().rstrip("/")
    url = url.removesuffix("/chat/completions")
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"base_url must be an http(s) URL such as http://localhost:8000/v1, got {base_url!r}")
    if parsed.path in ("", "/"):
        url += "/v1"
    return url


def image_data_url(image: Any, format: str = "PNG") -> str:
    """A PIL image as a ``data:image/png;base64,...`` URL."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format=format)
    return f"data:image/{format.lower()};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def user_message(text: str, images: Sequence[Any] = ()) -> dict[str, Any]:
    """One user turn: the images (as data URLs) first, then the text."""
    content: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": image_data_url(im)}} for im in images]
    content.append({"type": "text", "text": text})
    return {"role": "user", "content": content}


def message_text(response: dict[str, Any]) -> str:
    """``choices[0].message.content`` as a string (content parts are joined)."""
    try:
        content = response["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as err:
        raise EndpointError(f"malformed chat-completions response (no choices[0].message.content): "
                            f"{json.dumps(response)[:300]}") from err
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


class OpenAICompatibleClient:
    """``chat(model, messages, **params) -> str`` against ``{base_url}/chat/completions``.

    Args:
        base_url: e.g. ``http://localhost:8000/v1`` (vLLM's default) or ``http://localhost:30000/v1`` (SGLang).
        api_key: sent as ``Authorization: Bearer``; default ``$OPENAI_API_KEY``, else none (local servers).
        timeout: seconds per request.
        max_retries: extra attempts after a retryable failure.
        backoff: first wait in seconds, doubled after each retry.
    """

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 120.0, max_retries: int = 2,
                 backoff: float = 1.0) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.base_url = normalize_base_url(base_url)
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.timeout, self.max_retries, self.backoff = float(timeout), int(max_retries), float(backoff)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _request_once(self, method: str, url: str, body: bytes | None) -> dict[str, Any]:
        request = urllib.request.Request(url, data=body, headers=self._headers(), method=method)
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            raw = response.read()
        try:
            return json.loads(raw)
        except json.JSONDecodeError as err:
            raise EndpointError(f"{url} returned non-JSON: {raw[:200]!r}") from err

    def request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """One JSON request with retries; raises :class:`EndpointError` with the reason when it fails."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        body = json.dumps(payload).encode("utf-8") if payload is not None else None
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return self._request_once(method, url, body)
            except urllib.error.HTTPError as err:
                detail = err.read()[:300].decode("utf-8", "replace")
                last = f"HTTP {err.code} {err.reason}: {detail}"
                if err.code not in RETRYABLE_STATUS:
                    raise EndpointError(f"{method} {url} failed with {last}", status=err.code) from None
            except urllib.error.URLError as err:
                reason = err.reason
                last = f"timed out after {self.timeout:g} s" if isinstance(reason, (socket.timeout, TimeoutError)) \
                    else f"cannot connect ({reason})"
            except TimeoutError:
                last = f"timed out after {self.timeout:g} s"
            except (ConnectionError, http.client.HTTPException) as err:
                last = f"connection error ({type(err).__name__}: {err})"
        raise EndpointError(f"{method} {url}: {last} (gave up after {self.max_retries + 1} attempts; is the "
                            f"vLLM/SGLang server running at {self.base_url}?)")

    def chat(self, model: str, messages: list[dict[str, Any]], **params: Any) -> str:
        """The assistant's reply text of one chat completion (``params``: temperature, max_tokens, seed, ...)."""
        return message_text(self.request("POST", "chat/completions", {"model": model, "messages": messages, **params}))

    def models(self) -> list[str]:
        """The served model ids (``GET /models``): a cheap health check."""
        return [m.get("id", "") for m in self.request("GET", "models").get("data", [])]

