"""The paper's LLM feeling rating against fake providers on 127.0.0.1: what a user who rates
a clip sees, and what the provider is sent."""
from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from trainer.cli import main
from trainer.evaluate.rating import RatingSchemaError, validate_rating

ROOT = Path(__file__).resolve().parents[2]
PAINTING = ROOT / "examples" / "vincent-van-gogh_the-starry-night-1889.jpg"
GOOD = {"scores": {"Feeling_alignment": 8},
        "keywords": {"text": ["alive", "restless"], "image": ["swirling", "night"],
                     "audio": ["lively", "bright"]},
        "explanations": {"text": "restless wonder", "image": "a turbulent night sky",
                         "audio": "a lively, bright tune", "overall": "they agree"},
        "notes": ""}


class FakeProvider:
    """An OpenAI-compatible (or Gemini) server: answers from a script of replies, records
    every request (path, headers, JSON body)."""

    def __init__(self, script: list, gemini: bool = False) -> None:
        self.script, self.gemini, self.requests = list(script), gemini, []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "headers": dict(self.headers),
                                      "body": body})
                step = fake.script.pop(0) if len(fake.script) > 1 else fake.script[0]
                if isinstance(step, int):
                    self.send_response(step)
                    self.end_headers()
                    return
                if isinstance(step, tuple):  # ("slow", seconds, reply)
                    time.sleep(step[1])
                    step = step[2]
                text = json.dumps(step)
                reply = ({"candidates": [{"content": {"parts": [{"text": text}]}}]}
                         if fake.gemini else {"choices": [{"message": {"content": text}}]})
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    sr = 22050
    t = np.arange(2 * sr) / sr
    path = tmp_path / "clip.wav"
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    return path


@pytest.fixture
def provider(request):
    made = []

    def make(script, gemini=False):
        made.append(FakeProvider(script, gemini))
        return made[-1]

    yield make
    for p in made:
        p.close()


def rate(fake, clip, tmp_path, *extra):
    return main(["rate", "--image", str(PAINTING), "--comment", "the swirling sky feels alive",
                 "--audio", str(clip), "--endpoint", fake.url, "--model", "judge",
                 "--cache", str(tmp_path / "cache"), *extra])


def test_a_valid_rating_prints_the_score_and_keywords_and_writes_the_json(
        provider, clip, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-123")
    fake = provider([GOOD])
    assert rate(fake, clip, tmp_path, "--json", str(tmp_path / "r.json")) == 0
    out = capsys.readouterr()
    assert "Feeling_alignment 8 / 10" in out.out and "swirling, night" in out.out
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["scores"]["Feeling_alignment"] == 8 and saved["keywords"]["audio"] == [
        "lively", "bright"]

    # What the provider got: the paper's prompt, the composite text, the image, the audio.
    req = fake.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer sk-secret-123"
    system = req["body"]["messages"][0]["content"]
    assert "feeling consistency evaluator" in system and "JSON only" in system
    parts = {p["type"]: p for p in req["body"]["messages"][1]["content"]}
    assert "Art Commentary: the swirling sky feels alive" in parts["text"]["text"]
    assert parts["image_url"]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    audio = base64.b64decode(parts["input_audio"]["input_audio"]["data"])
    assert audio[:4] == b"RIFF" and parts["input_audio"]["input_audio"]["format"] == "wav"
    # The key travels in the header only: never printed, never in the cache.
    assert "sk-secret-123" not in out.out + out.err
    assert not any("sk-secret-123" in p.read_text() for p in (tmp_path / "cache").iterdir())


def test_a_second_identical_rating_comes_from_the_cache(provider, clip, tmp_path, capsys):
    fake = provider([GOOD])
    assert rate(fake, clip, tmp_path) == 0
    assert rate(fake, clip, tmp_path) == 0
    assert len(fake.requests) == 1
    assert "(from the cache)" in capsys.readouterr().out
    # Another comment is another rating.
    main(["rate", "--image", str(PAINTING), "--comment", "a calm night", "--audio", str(clip),
          "--endpoint", fake.url, "--model", "judge", "--cache", str(tmp_path / "cache")])
    assert len(fake.requests) == 2


def test_an_out_of_range_score_is_refused_naming_the_field_without_a_traceback(
        provider, clip, tmp_path, capsys):
    fake = provider([{**GOOD, "scores": {"Feeling_alignment": 42}}])
    assert rate(fake, clip, tmp_path, "--retries", "1") != 0
    err = capsys.readouterr().err
    assert "Feeling_alignment" in err and "42" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert len(fake.requests) == 2  # retried once, then reported


def test_a_server_error_then_success_is_retried(provider, clip, tmp_path, capsys):
    fake = provider([500, GOOD])
    assert rate(fake, clip, tmp_path) == 0
    assert len(fake.requests) == 2
    assert "Feeling_alignment 8" in capsys.readouterr().out


def test_a_slow_reply_times_out_and_is_tried_again(provider, clip, tmp_path, capsys):
    fake = provider([("slow", 2.0, GOOD), GOOD])
    assert rate(fake, clip, tmp_path, "--timeout", "0.5") == 0
    assert len(fake.requests) == 2
    # A server that never answers in time fails with one line saying so.
    never = provider([("slow", 2.0, GOOD)])
    assert rate(never, clip, tmp_path, "--timeout", "0.3", "--retries", "1",
                "--cache", str(tmp_path / "other")) == 1
    assert "no answer from" in capsys.readouterr().err


def test_a_refused_key_says_which_variable_to_check(provider, clip, tmp_path, capsys):
    fake = provider([401])
    assert rate(fake, clip, tmp_path) == 1
    err = capsys.readouterr().err
    assert "401" in err and "OPENAI_API_KEY" in err and len(fake.requests) == 1


def test_gemini_gets_inline_data_and_its_reply_is_read(provider, clip, tmp_path, capsys,
                                                       monkeypatch):
    monkeypatch.setenv("MY_GEMINI", "g-key")
    fake = provider([GOOD], gemini=True)
    assert rate(fake, clip, tmp_path, "--provider", "gemini", "--api-key-env",
                "MY_GEMINI") == 0
    req = fake.requests[0]
    assert req["path"] == "/v1/models/judge:generateContent"
    assert req["headers"]["X-Goog-Api-Key"] == "g-key"
    mimes = [p["inline_data"]["mime_type"] for p in req["body"]["contents"][0]["parts"]
             if "inline_data" in p]
    assert mimes == ["image/jpeg", "audio/wav"]
    assert "Feeling_alignment 8" in capsys.readouterr().out


def test_a_batch_rates_what_it_can_and_reports_the_rest(provider, clip, tmp_path, capsys):
    table = tmp_path / "items.csv"
    table.write_text("image,comment,audio\n"
                     f"{PAINTING},the swirling sky feels alive,{clip}\n"
                     f"{tmp_path / 'gone.jpg'},a lost painting,{clip}\n"
                     f"{PAINTING},a calm night,{clip}\n")
    fake = provider([GOOD, {**GOOD, "scores": {"Feeling_alignment": 6}}])
    assert main(["rate", "--batch", str(table), "--endpoint", fake.url, "--model", "judge",
                 "--cache", str(tmp_path / "cache"), "--json", str(tmp_path / "sum.json")]) == 0
    out = capsys.readouterr()
    assert "rated 2 of 3 items" in out.out and "mean Feeling_alignment 7.00" in out.out
    assert "gone.jpg" in out.err
    rows = (tmp_path / "items-ratings.csv").read_text().splitlines()
    assert len(rows) == 4 and "not found" in rows[2]
    assert json.loads((tmp_path / "sum.json").read_text())["mean_feeling_alignment"] == 7.0


@pytest.mark.parametrize("reply, field", [
    ("not json", "not JSON"),
    ({"keywords": {}, "explanations": {}}, "scores is missing"),
    ({**GOOD, "scores": {"Feeling_alignment": 7.5}}, "Feeling_alignment"),
    ({**GOOD, "scores": {"Feeling_alignment": True}}, "Feeling_alignment"),
    ({**GOOD, "keywords": {**GOOD["keywords"], "audio": []}}, "keywords.audio"),
    ({**GOOD, "keywords": {**GOOD["keywords"], "image": list("abcdef")}}, "keywords.image"),
    ({**GOOD, "explanations": {**GOOD["explanations"], "overall": ""}}, "explanations.overall"),
    ({**GOOD, "notes": 3}, "notes"),
])
def test_table_ix_is_enforced_field_by_field(reply, field):
    with pytest.raises(RatingSchemaError, match=field.replace(".", r"\.")):
        validate_rating(reply if isinstance(reply, str) else json.dumps(reply))


def test_a_fenced_json_reply_without_notes_is_accepted():
    reply = {k: v for k, v in GOOD.items() if k != "notes"}
    r = validate_rating("```json\n" + json.dumps(reply) + "\n```")
    assert r.feeling_alignment == 8 and r.notes == ""


def test_a_redirect_to_another_host_gets_neither_the_key_nor_a_cached_rating(
        provider, clip, tmp_path, capsys, monkeypatch):
    """An endpoint that answers 302 to another host (127.0.0.2): the key stays home, the
    other host's reply is not taken, and the user is told why in one line."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-123")
    elsewhere = provider([GOOD])  # its handler records every request it hears
    # the same handler on the other loopback host: what reaches 127.0.0.2 is recorded there
    other_server = ThreadingHTTPServer(("127.0.0.2", 0), elsewhere.server.RequestHandlerClass)
    other_url = f"http://127.0.0.2:{other_server.server_address[1]}/v1"
    threading.Thread(target=other_server.serve_forever, daemon=True).start()

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", other_url + "/chat/completions")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    home = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=home.serve_forever, daemon=True).start()
    try:
        code = main(["rate", "--image", str(PAINTING), "--comment", "the sky",
                     "--audio", str(clip), "--endpoint",
                     f"http://127.0.0.1:{home.server_address[1]}/v1", "--model", "judge",
                     "--cache", str(tmp_path / "cache")])
        err = capsys.readouterr().err
        assert code == 1 and "redirect" in err and "not followed" in err
        assert elsewhere.requests == []  # the other host heard nothing: no key, no body
        assert not list((tmp_path / "cache").glob("**/*.json"))  # nothing cached
    finally:
        home.shutdown()
        home.server_close()
        other_server.shutdown()
        other_server.server_close()
