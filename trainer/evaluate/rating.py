"""The paper's LLM feeling-consistency rating (its §IV-C, prompt Table VIII, schema Table IX).

A multimodal LLM receives the painting, the composite text and the generated audio, and
answers in JSON how well the three agree in feeling (0-10) with keywords and explanations
per modality. Two wire formats cover the providers the paper's setting needs:

- ``openai``: any OpenAI-compatible ``POST {endpoint}/chat/completions`` (OpenAI itself, a
  local server such as vLLM or llama.cpp): the image as an ``image_url`` data URL part, the
  audio as an ``input_audio`` part (base64 WAV), JSON requested with ``response_format``.
- ``gemini``: ``POST {endpoint}/models/{model}:generateContent`` with ``inline_data`` parts.

Replies are validated against Table IX (:func:`validate_rating`); a broken reply is refused
with one line naming the field, retried, and reported as failed for that item. Transport
errors 429/5xx and timeouts are retried with exponential backoff (``Retry-After`` honoured).
Ratings are cached on disk by the hash of every input (image bytes, text, audio bytes,
provider, model, prompt version): a re-run costs nothing. The API key is read from an
environment variable only, sent in a header, and never logged or written.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PROMPT_VERSION = "table8-v1"  # part of the cache key: a changed prompt is a new rating
RATING_PROMPT = """You are a multimodal feeling consistency evaluator.

You receive three inputs that belong together: an IMAGE (a painting), a TEXT (a viewer's \
comment on the painting, with emotion and music keywords), and an AUDIO clip (music that \
was generated for the painting and the comment).

Judge the feeling each input conveys (its emotion, mood and atmosphere), then judge how \
consistent the feelings of the three inputs are with each other: does the music feel the \
way the painting looks and the way the viewer says it feels?

Answer with JSON only, no other text, exactly in this form:
{
  "scores": {"Feeling_alignment": <an integer from 0 (no consistency) to 10 (fully consistent)>},
  "keywords": {"text": [1-5 feeling words], "image": [1-5 feeling words], \
"audio": [1-5 feeling words]},
  "explanations": {"text": "<the feeling of the text>", "image": "<the feeling of the \
image>", "audio": "<the feeling of the audio>", "overall": "<why this score>"},
  "notes": "<optional remarks>"
}"""
PROVIDERS = ("openai", "gemini")
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "gemini": "GEMINI_API_KEY"}
DEFAULT_ENDPOINT = {"openai": "https://api.openai.com/v1",
                    "gemini": "https://generativelanguage.googleapis.com/v1beta"}
MODALITIES = ("text", "image", "audio")
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class RatingError(RuntimeError):
    """A rating could not be had: the reply broke the schema, or the server failed."""


class RatingSchemaError(RatingError):
    """The reply is not Table IX's JSON; the message names the field and what was wrong."""


class _Retryable(RatingError):
    """A try that may succeed later (429/5xx, timeout, no connection)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Rating:
    """One validated Table IX reply."""

    feeling_alignment: int  # scores.Feeling_alignment, 0..10
    keywords: dict[str, list[str]]  # text / image / audio -> 1..5 words
    explanations: dict[str, str]  # text / image / audio / overall
    notes: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"scores": {"Feeling_alignment": self.feeling_alignment},
                "keywords": self.keywords, "explanations": self.explanations,
                "notes": self.notes}


def validate_rating(reply: Any) -> Rating:
    """Table IX: ``scores.Feeling_alignment`` an int in [0, 10]; ``keywords.text|image|audio``
    lists of 1-5 non-empty strings; ``explanations.text|image|audio|overall`` strings;
    ``notes`` optional. A JSON string is parsed first (a fenced ```json block is accepted).

    Raises:
        RatingSchemaError: naming the first field that is missing or wrong.
    """
    if isinstance(reply, str):
        text = reply.strip()
        if text.startswith("```"):
            text = text.strip("`").removeprefix("json").strip()
        try:
            reply = json.loads(text)
        except json.JSONDecodeError as err:
            raise RatingSchemaError(f"the reply is not JSON ({err.msg} at character "
                                    f"{err.pos})") from None
    if not isinstance(reply, dict):
        raise RatingSchemaError(f"the reply is a JSON {type(reply).__name__}, not an object")

    def section(name: str) -> dict[str, Any]:
        value = reply.get(name)
        if not isinstance(value, dict):
            raise RatingSchemaError(f"{name} is {'missing' if value is None else 'not an object'}")
        return value

    score = section("scores").get("Feeling_alignment")
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
        raise RatingSchemaError(f"scores.Feeling_alignment must be an integer from 0 to 10, "
                                f"got {json.dumps(score)}")
    keywords = {}
    kw = section("keywords")
    for m in MODALITIES:
        words = kw.get(m)
        if not isinstance(words, list) or not 1 <= len(words) <= 5 or not all(
                isinstance(w, str) and w.strip() for w in words):
            raise RatingSchemaError(f"keywords.{m} must be a list of 1 to 5 words, got "
                                    f"{json.dumps(words)[:80]}")
        keywords[m] = [w.strip() for w in words]
    explanations = {}
    ex = section("explanations")
    for m in (*MODALITIES, "overall"):
        if not isinstance(ex.get(m), str) or not ex[m].strip():
            raise RatingSchemaError(f"explanations.{m} must be a non-empty string")
        explanations[m] = ex[m].strip()
    notes = reply.get("notes", "")
    if notes is None:
        notes = ""
    if not isinstance(notes, str):
        raise RatingSchemaError("notes must be a string when present")
    return Rating(score, keywords, explanations, notes)


# --------------------------------------------------------------------------- inputs

@dataclass(frozen=True)
class RatingInputs:
    """What the rater sees, as bytes (hashed for the cache, base64 on the wire)."""

    image_jpeg: bytes
    text: str  # the composite text
    audio_wav: bytes

    def key(self, provider: str, model: str) -> str:
        h = hashlib.sha256()
        for part in (PROMPT_VERSION, provider, model, self.text):
            h.update(part.encode("utf-8") + b"\0")
        h.update(hashlib.sha256(self.image_jpeg).digest())
        h.update(hashlib.sha256(self.audio_wav).digest())
        return h.hexdigest()


def load_inputs(image: str | Path, comment: str, audio: str | Path,
                hints: str | None = None, max_side: int = 1024) -> RatingInputs:
    """The painting (re-encoded as JPEG, at most ``max_side`` px: what a provider accepts),
    the composite text of SPEC §2.2, and the clip as 16-bit WAV.

    Raises:
        BadInputError: a missing or unreadable image or audio file, an empty comment.
    """
    import soundfile as sf

    from a2m_core.audio import load_audio
    from a2m_core.errors import BadInputError
    from a2m_core.images import load_image
    from a2m_core.prompt import MusicHints, build_prompt, check_user_text

    try:
        check_user_text(comment)
    except ValueError as err:
        raise BadInputError(str(err)) from err
    img = load_image(image).convert("RGB")
    img.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    wave = load_audio(audio, 22050)
    wav = io.BytesIO()
    sf.write(wav, wave, 22050, format="WAV", subtype="PCM_16")
    text = build_prompt(comment, MusicHints.parse(hints) if hints else None).text
    return RatingInputs(buf.getvalue(), text, wav.getvalue())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Follow no redirect: a 3xx would carry the request, and its Authorization header, to
    another address, and that address's reply would be cached as the rating."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


# --------------------------------------------------------------------------- wire formats

def request_for(provider: str, endpoint: str, model: str, inputs: RatingInputs,
                api_key: str | None) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``(url, headers, JSON body)`` of one rating request in the provider's format."""
    image_b64 = base64.b64encode(inputs.image_jpeg).decode("ascii")
    audio_b64 = base64.b64encode(inputs.audio_wav).decode("ascii")
    headers = {"Content-Type": "application/json"}
    endpoint = endpoint.rstrip("/")
    if provider == "openai":
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        body = {
            "model": model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": RATING_PROMPT},
                {"role": "user", "content": [
                    {"type": "text", "text": f"TEXT: {inputs.text}"},
                    {"type": "image_url",
                     "image_url": {"url": f"data:image/jpeg;base64,{image_b64}"}},
                    {"type": "input_audio", "input_audio": {"data": audio_b64,
                                                            "format": "wav"}},
                ]},
            ],
        }
        return f"{endpoint}/chat/completions", headers, body
    if provider == "gemini":
        if api_key:
            headers["x-goog-api-key"] = api_key
        body = {
            "contents": [{"role": "user", "parts": [
                {"text": RATING_PROMPT},
                {"text": f"TEXT: {inputs.text}"},
                {"inline_data": {"mime_type": "image/jpeg", "data": image_b64}},
                {"inline_data": {"mime_type": "audio/wav", "data": audio_b64}},
            ]}],
            "generationConfig": {"temperature": 0, "responseMimeType": "application/json"},
        }
        return f"{endpoint}/models/{model}:generateContent", headers, body
    raise ValueError(f"unknown provider '{provider}': use {' or '.join(PROVIDERS)}")


def reply_text(provider: str, reply: Any) -> str:
    """The model's answer inside a provider's response JSON."""
    try:
        if provider == "openai":
            content = reply["choices"][0]["message"]["content"]
            if isinstance(content, list):  # some servers answer in content parts
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content)
        return "".join(p.get("text", "") for p in reply["candidates"][0]["content"]["parts"])
    except (KeyError, IndexError, TypeError):
        raise RatingSchemaError(f"the {provider} response holds no answer: "
                                f"{json.dumps(reply)[:120]}") from None


# --------------------------------------------------------------------------- the client

@dataclass
class RaterConfig:
    provider: str = "openai"
    model: str = "gpt-4o-audio-preview"
    endpoint: str | None = None  # default: the provider's public API
    api_key_env: str | None = None  # default: OPENAI_API_KEY / GEMINI_API_KEY
    timeout_s: float = 120.0
    retries: int = 3  # further tries after a failed one (transport or schema)
    backoff_s: float = 1.0  # first wait; doubles each retry
    cache: Path | None = field(default=None)  # folder; None: the user cache

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ValueError(f"unknown provider '{self.provider}': use "
                             f"{' or '.join(PROVIDERS)}")


class Rater:
    """Rates (image, text, audio) triples against one provider and model, with a cache."""

    def __init__(self, cfg: RaterConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        self.cfg = cfg
        self.endpoint = cfg.endpoint or DEFAULT_ENDPOINT[cfg.provider]
        env = cfg.api_key_env or DEFAULT_KEY_ENV[cfg.provider]
        self.api_key = os.environ.get(env) or None
        if cfg.api_key_env and self.api_key is None:
            raise RatingError(f"the API key variable ${env} is not set")
        self.key_env = env
        if cfg.cache is None:
            from a2m_core.defaults import cache_dir

            cfg.cache = cache_dir() / "ratings"
        self._sleep = sleep

    def _cache_file(self, inputs: RatingInputs) -> Path:
        assert self.cfg.cache is not None
        return self.cfg.cache / f"{inputs.key(self.cfg.provider, self.cfg.model)}.json"

    def cached(self, inputs: RatingInputs) -> Rating | None:
        path = self._cache_file(inputs)
        if not path.is_file():
            return None
        try:
            return validate_rating(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, RatingSchemaError):
            return None  # a damaged entry is asked again and rewritten

    def _post(self, inputs: RatingInputs) -> Any:
        url, headers, body = request_for(self.cfg.provider, self.endpoint, self.cfg.model,
                                         inputs, self.api_key)
        req = urllib.request.Request(url, data=json.dumps(body).encode("utf-8"),
                                     headers=headers, method="POST")
        with _OPENER.open(req, timeout=self.cfg.timeout_s) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def rate(self, inputs: RatingInputs) -> tuple[Rating, bool]:
        """``(rating, from_cache)``. Retries transport errors (429/5xx, timeouts) and
        schema-breaking replies up to ``retries`` times.

        Raises:
            RatingSchemaError: every try broke the schema (the last reason).
            RatingError: the server refused or kept failing.
        """
        hit = self.cached(inputs)
        if hit is not None:
            return hit, True
        last: RatingError | None = None
        for attempt in range(self.cfg.retries + 1):
            if attempt:
                wait = self.cfg.backoff_s * 2 ** (attempt - 1)
                retry_after = last.retry_after if isinstance(last, _Retryable) else None
                self._sleep(max(wait, retry_after or 0.0))
            try:
                rating = validate_rating(reply_text(self.cfg.provider, self._post(inputs)))
            except RatingSchemaError as err:
                log.warning("rating reply refused (try %d): %s", attempt + 1, err)
                last = err
                continue
            except urllib.error.HTTPError as err:
                if 300 <= err.code < 400:
                    where = err.headers.get("Location", "?") if err.headers else "?"
                    raise RatingError(
                        f"the endpoint {self.endpoint} answered HTTP {err.code}, a redirect to "
                        f"{where}: not followed (the API key goes only to the configured "
                        f"endpoint; set --endpoint to the final address)") from None
                if err.code not in RETRY_STATUS:
                    hint = (f": check the API key in ${self.key_env}"
                            if err.code in (401, 403) else "")
                    raise RatingError(f"the server refused the request (HTTP {err.code} "
                                      f"{err.reason}){hint}") from None
                ra = err.headers.get("Retry-After") if err.headers else None
                last = _Retryable(f"the server answered HTTP {err.code} {err.reason}",
                                  float(ra) if ra and ra.replace(".", "", 1).isdigit() else None)
                log.warning("rating try %d: %s", attempt + 1, last)
                continue
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                reason = getattr(err, "reason", err)
                last = _Retryable(f"no answer from {self.endpoint} ({reason})")
                log.warning("rating try %d: %s", attempt + 1, last)
                continue
            except json.JSONDecodeError:
                last = _Retryable("the server's response is not JSON")
                continue
            from a2m_core.fileio import atomic_write_bytes

            atomic_write_bytes(self._cache_file(inputs),
                               json.dumps(rating.to_json(), indent=2).encode("utf-8"))
            return rating, False
        assert last is not None
        tries = self.cfg.retries + 1
        if isinstance(last, RatingSchemaError):
            raise RatingSchemaError(f"{last} (after {tries} tries)")
        raise RatingError(f"{last} (after {tries} tries)")


# --------------------------------------------------------------------------- batches

@dataclass
class RatedItem:
    image: str
    comment: str
    audio: str
    score: int | None
    keywords: dict[str, list[str]] = field(default_factory=dict)
    error: str = ""
    cached: bool = False

    def row(self) -> dict[str, Any]:
        d = asdict(self)
        kw = d.pop("keywords")
        for m in MODALITIES:
            d[f"keywords_{m}"] = "; ".join(kw.get(m, []))
        d["score"] = "" if self.score is None else self.score
        return d


def read_items(path: Path) -> list[dict[str, str]]:
    """Rows with ``image``, ``comment``, ``audio`` (and optional ``hints``) from a CSV, or
    from an evaluation folder's ``items.csv`` (``a2m-train evaluate --out``); relative paths
    are taken from the CSV's folder.

    Raises:
        BadInputError: no such file, or a missing column.
    """
    import csv

    from a2m_core.errors import BadInputError

    csv_path = path / "items.csv" if path.is_dir() else path
    if not csv_path.is_file():
        raise BadInputError(f"no item table at {csv_path} (a CSV with columns image, "
                            f"comment, audio; or an `a2m-train evaluate --out` folder)")
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    missing = {"image", "comment", "audio"} - set(rows[0] if rows else {})
    if missing:
        raise BadInputError(f"{csv_path} lacks the column(s) {', '.join(sorted(missing))}")
    base = csv_path.parent
    for r in rows:
        for k in ("image", "audio"):
            if r[k] and not Path(r[k]).is_absolute():
                r[k] = str(base / r[k])
    return rows


def rate_batch(rater: Rater, rows: list[dict[str, str]],
               progress: Callable[[str, int, int], None] | None = None) -> list[RatedItem]:
    """Rate every row; a failed item is recorded with its one-line reason, and the batch
    goes on."""
    from a2m_core.errors import A2MError

    out = []
    for k, r in enumerate(rows):
        if progress:
            progress("rate", k, len(rows))
        item = RatedItem(r["image"], r["comment"], r["audio"], None)
        try:
            rating, item.cached = rater.rate(load_inputs(r["image"], r["comment"], r["audio"],
                                                         r.get("hints") or None))
            item.score, item.keywords = rating.feeling_alignment, rating.keywords
        except (RatingError, A2MError) as err:
            item.error = str(err)
            log.warning("item %d (%s) not rated: %s", k + 1, Path(r["image"]).name, err)
        out.append(item)
    if progress:
        progress("rate", len(rows), len(rows))
    return out


def mean_score(items: list[RatedItem]) -> float | None:
    scores = [i.score for i in items if i.score is not None]
    return sum(scores) / len(scores) if scores else None


def ratings_markdown(rows: list[dict[str, Any]]) -> str:
    """A Markdown section of batch ratings (``RatedItem.row()`` dicts); empty without rows."""
    if not rows:
        return ""
    scores = [int(r["score"]) for r in rows if r["score"] != ""]
    mean = f"{sum(scores) / len(scores):.2f}" if scores else "-"
    lines = ["", "## LLM feeling rating (paper §IV-C)", "",
             f"Mean Feeling_alignment **{mean}** / 10 over {len(scores)} of {len(rows)} clips "
             "(the paper's three samples: 9, 8 and 6).", "",
             "| painting | comment | score | audio keywords |", "|---|---|---|---|"]
    for r in rows:
        score = r["score"] if r["score"] != "" else f"not rated: {r['error'][:60]}"
        lines.append(f"| {Path(r['image']).stem[:40]} | {r['comment'][:50]} | {score} | "
                     f"{r.get('keywords_audio', '')} |")
    return "\n".join(lines) + "\n"
