"""The OSC protocol: addresses, argument orders, error codes, and argument validation.

Other tools depend on these names and orders; change them only with a new address.
Handlers call the ``parse_*`` functions, which either return clean values or raise
:class:`ProtocolError` carrying the code and a one-line message for the ``/a2m/error`` reply.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from a2m_core.errors import BadInputError
from a2m_core.request import GenerationRequest

# the comment may be "": a visitor who writes nothing still hears the painting
GENERATE = "/a2m/generate"  # s:request_id s:image_path s:comment [i:seed] [s:hints]
# every control at once: s:request_id s:json, the object's names those of the CLI's flags
# (a2m_core.request.FIELDS): image, comment, seed, hints, emotion, variation, loop, tempo,
# key, mode, instrument, dynamics, density, register, articulation, texture
GENERATE_JSON = "/a2m/generate/json"
LOOP = "/a2m/loop"  # as /a2m/generate; the WAV repeats seamlessly (0.5 s shorter)
CANCEL = "/a2m/cancel"  # s:request_id
STATUS = "/a2m/status"  # () -> /a2m/status s:bundle s:device i:queue_depth i:busy s:state
REPLY_TO = "/a2m/reply_to"  # s:host i:port

ACCEPTED = "/a2m/accepted"  # s:request_id i:queue_position
PROGRESS = "/a2m/progress"  # s:request_id s:stage f:fraction
DONE = "/a2m/done"  # s:request_id s:wav_path f:duration_s i:sample_rate
# notes bundles, just before /a2m/done: what the clip plays, and its MIDI file (or "")
PLAN = "/a2m/plan"  # s:request_id s:plan f:tempo_bpm s:key s:instrument s:midi_path
# notes bundles, right after /a2m/plan: which input moved which control, in one line
WHY = "/a2m/why"  # s:request_id s:why
ERROR = "/a2m/error"  # s:request_id s:message i:code
# notes bundles, while the bridge's own soundscape plays: each note as it sounds
NOTE = "/a2m/note"  # i:pitch i:velocity f:duration_s i:part
READY = "/a2m/ready"  # s:bundle s:device, once the model has loaded
HEARTBEAT = "/a2m/heartbeat"  # s:state i:queue_depth f:uptime_s, every --heartbeat seconds

# Live soundscape on the bridge's own sound device (see a2m_app/live.py).
STREAM_START = "/a2m/stream/start"  # [s:device]
STREAM_NEXT = "/a2m/stream/next"  # the arguments of /a2m/generate: queue a scene
STREAM_STOP = "/a2m/stream/stop"  # ()
STREAM_STATUS = "/a2m/stream/status"  # () -> s:playing i:queued i:underruns s:device s:state

# /a2m/status's state: the socket answers from launch, the model loads behind it.
LOADING, READY_STATE, FAILED = "loading", "ready", "error"

MAX_ID_CHARS = 128
MAX_COMMENT_CHARS = 2000
MAX_HINTS_CHARS = 500
MAX_JSON_CHARS = 8000


class ErrorCode(IntEnum):
    """Codes of ``/a2m/error``; documented in osc_bridge/README.md."""

    BAD_REQUEST = 1  # malformed packet, wrong argument types or count, over-long text
    FILE_REFUSED = 2  # image missing, unreadable, not an image, or outside --allow folders
    QUEUE_FULL = 3  # the request queue is at its configured depth: try again later
    GENERATION_FAILED = 4  # the engine failed on this request
    CANCELLED = 5  # cancelled by /a2m/cancel or by server shutdown


class ProtocolError(Exception):
    def __init__(self, code: ErrorCode, message: str, request_id: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.request_id = request_id


@dataclass(frozen=True)
class GenerateArgs:
    request_id: str
    image_path: Path
    comment: str
    seed: int | None
    hints: str | None
    options: tuple[tuple[str, Any], ...] = ()  # the other names of /a2m/generate/json

    def request(self, image: Any, loop: bool = False) -> GenerationRequest:
        """The request to make, on ``image`` (the bytes read at acceptance).

        Raises:
            BadInputError: a value out of range (parse_generate_json has checked them)."""
        data = {**dict(self.options), "image": image, "comment": self.comment,
                "seed": self.seed, "hints": self.hints}
        if loop:
            data["loop"] = True
        return GenerationRequest.from_dict(data)


def _request_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        # a host that sent a number still gets its refusal under that number, as a string
        echo = str(value) if isinstance(value, (int, float)) and not isinstance(
            value, bool) else ""
        raise ProtocolError(ErrorCode.BAD_REQUEST, "request_id must be a non-empty string "
                            "(s), not a number" if echo else
                            "request_id must be a non-empty string", echo[:MAX_ID_CHARS])
    if len(value) > MAX_ID_CHARS:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"request_id is longer than {MAX_ID_CHARS} characters")
    return value


# Never answered: no reply loops. (/a2m/status and /a2m/stream/status with values are
# replies too; their handlers ignore them.)
REPLIES = frozenset({ACCEPTED, PROGRESS, DONE, ERROR, READY, HEARTBEAT})


def request_id_of(args: tuple[Any, ...]) -> str:
    """The request id a reply can carry, or "" when the first argument is not a usable id."""
    try:
        return _request_id(args[0]) if args else ""
    except ProtocolError as err:
        return err.request_id  # a number sent as the id comes back as its string


def salvage_request_id(data: bytes) -> tuple[str, str]:
    """(address, request id) read leniently from a datagram the OSC parser refused (say, a
    comment that is not UTF-8), so the refusal can still name the request; "" where unknown.
    """
    def string_at(pos: int) -> tuple[bytes, int]:
        end = data.index(b"\0", pos)
        return data[pos:end], (end + 4) & ~3  # strings are NUL-padded to 4 bytes

    try:
        raw_address, pos = string_at(0)
        address = raw_address.decode("ascii")
        tags, pos = string_at(pos)
        if not tags.startswith(b",s"):
            return address, ""
        raw_id, _ = string_at(pos)
        return address, request_id_of((raw_id.decode("utf-8"),))
    except (ValueError, UnicodeDecodeError):
        return "", ""


def parse_generate(args: tuple[Any, ...]) -> GenerateArgs:
    """Validate ``/a2m/generate`` arguments (types, counts, lengths; not the file itself)."""
    rid = _request_id(args[0]) if args else ""
    if not 3 <= len(args) <= 5:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{GENERATE} takes s:request_id "
                            f"s:image_path s:comment [i:seed] [s:hints], got {len(args)} "
                            f"arguments", rid)
    _, image, comment, *rest = args
    if not isinstance(image, str) or not image.strip():
        raise ProtocolError(ErrorCode.BAD_REQUEST, "image_path must be a non-empty string", rid)
    if not isinstance(comment, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "comment must be a string (s; \"\" for "
                            "none)", rid)
    if len(comment) > MAX_COMMENT_CHARS:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"comment is longer than {MAX_COMMENT_CHARS} characters", rid)
    seed: int | None = None
    hints: str | None = None
    if rest:
        first = rest[0]
        # Some hosts can't send an int where they mean "no seed": accept hints in 4th place.
        if isinstance(first, bool) or not isinstance(first, (int, str)):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "seed must be an int (i)", rid)
        if isinstance(first, int):
            if first < 0:
                raise ProtocolError(ErrorCode.BAD_REQUEST, "seed must be >= 0", rid)
            seed = first
        else:
            hints = first
        if len(rest) == 2:
            if not isinstance(rest[1], str) or hints is not None:
                raise ProtocolError(ErrorCode.BAD_REQUEST, "hints must be a string (s) after "
                                    "the seed", rid)
            hints = rest[1]
    if hints is not None and len(hints) > MAX_HINTS_CHARS:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"hints are longer than {MAX_HINTS_CHARS} characters", rid)
    return GenerateArgs(rid, Path(image).expanduser(), comment.strip(), seed,
                        hints.strip() if hints and hints.strip() else None)


def parse_generate_json(args: tuple[Any, ...]) -> GenerateArgs:
    """Validate ``/a2m/generate/json``: s:request_id and a JSON object holding the request
    (types, ranges, names; not the file itself)."""
    import json

    rid = _request_id(args[0]) if args else ""
    if len(args) != 2 or not isinstance(args[1], str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{GENERATE_JSON} takes s:request_id "
                            f"s:json, got {len(args)} arguments", rid)
    if len(args[1]) > MAX_JSON_CHARS:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"the JSON is longer than {MAX_JSON_CHARS} characters", rid)
    try:
        data = json.loads(args[1])
    except ValueError as err:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"not JSON: {err}", rid) from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "the JSON must be an object: "
                            '{"image": ..., "comment": ..., "tempo": ...}', rid)
    image = data.get("image")
    if not isinstance(image, str) or not image.strip():
        raise ProtocolError(ErrorCode.BAD_REQUEST, "\"image\" must be a non-empty string "
                            "(a path)", rid)
    for name, limit in (("comment", MAX_COMMENT_CHARS), ("hints", MAX_HINTS_CHARS)):
        if isinstance(data.get(name), str) and len(data[name]) > limit:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name} is longer than {limit} "
                                f"characters", rid)
    try:
        request = GenerationRequest.from_dict(data)  # every name and value, checked now
    except BadInputError as err:
        raise ProtocolError(ErrorCode.BAD_REQUEST, str(err), rid) from None
    if request.seed is not None and request.seed < 0:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "seed must be >= 0", rid)
    options = tuple((k, v) for k, v in data.items()
                    if k not in ("image", "comment", "seed", "hints"))
    hints = request.hints if isinstance(request.hints, str) and request.hints else None
    return GenerateArgs(rid, Path(image.strip()).expanduser(), request.comment, request.seed,
                        hints, options)


def parse_cancel(args: tuple[Any, ...]) -> str:
    if len(args) != 1:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{CANCEL} takes s:request_id")
    return _request_id(args[0])


def parse_reply_to(args: tuple[Any, ...]) -> tuple[str, int]:
    if (len(args) != 2 or not isinstance(args[0], str) or not isinstance(args[1], int)
            or isinstance(args[1], bool) or not 0 < args[1] < 65536):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{REPLY_TO} takes s:host i:port "
                            f"(port 1-65535)")
    return args[0], args[1]


def check_allowed(path: Path, allowed: tuple[Path, ...], request_id: str) -> Path:
    """The resolved image path if it lies inside an allowed folder and is a file."""
    resolved = path.resolve()
    if not any(resolved.is_relative_to(folder) for folder in allowed):
        raise ProtocolError(ErrorCode.FILE_REFUSED, f"image path {path} is outside the allowed "
                            f"folders (start the bridge with --allow DIR)", request_id)
    if not resolved.is_file():
        raise ProtocolError(ErrorCode.FILE_REFUSED, f"image not found: {path}", request_id)
    return resolved
