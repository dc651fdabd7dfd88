"""The notes decoder: a plan a person can read and pin, notes that replay, MIDI out, and a
sampler whose SoundFont is checked before it plays."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from a2m_core import Art2Music
from a2m_core.debug import build_debug_bundle, tiny_notes_config
from a2m_core.errors import BadInputError, ModelLoadError
from a2m_core.notes import score
from a2m_core.notes.plan import Pins, hinted_instrument, with_hinted_instrument
from a2m_core.notes.sampler import FLUID_R3_GM, SamplerConfig, SoundFontRef
from a2m_core.notes.score import Note

from .conftest import EXAMPLE_PAINTING

needs_soundfont = pytest.mark.skipif(
    not Path(FLUID_R3_GM.path).is_file(),
    reason="FluidR3_GM.sf2 missing: apt-get install fluid-soundfont-gm (scripts/system-deps.sh)")


@pytest.fixture(scope="module")
def notes_bundle(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("notes") / "tiny-notes.safetensors"
    return build_debug_bundle(path, seed=0, config=tiny_notes_config())


@pytest.fixture(scope="module")
def notes_engine(notes_bundle):
    return Art2Music.load(notes_bundle, device="cpu")


def c_major_scale() -> list[Note]:
    return [Note(i * 1.0, 1.0, p) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])]


def test_a_windows_true_controls_are_measured_from_its_notes():
    m = score.measure(c_major_scale(), beats=8.0)
    assert (m.tonic, m.mode) == (0, "major") and m.key_clarity > 0.8
    assert m.notes_per_beat == pytest.approx(1.0)
    assert m.register == pytest.approx(np.mean([60, 62, 64, 65, 67, 69, 71, 72]))
    assert m.articulation == pytest.approx(1.0) and m.polyphony == pytest.approx(1.0)
    minor = score.transpose([Note(i * 0.5, 0.25, p) for i, p in
                             enumerate([57, 59, 60, 62, 64, 65, 68, 69] * 2)], 0)
    mm = score.measure(minor, beats=8.0)
    assert (score.NAMES[mm.tonic], mm.mode) == ("A", "minor")
    assert mm.notes_per_beat == pytest.approx(2.0) and mm.articulation == pytest.approx(0.5)


def test_a_corpus_window_states_what_its_notes_hold():
    from trainer.data.note_corpus import NoteCorpusConfig, windows_of

    notes = [Note(i * 0.5, 0.5, 57 + (0, 2, 3, 5, 7, 8, 11, 12)[i % 8]) for i in range(64)]
    cfg = NoteCorpusConfig(out=Path("unused"), windows_per_piece=2, seed=3)
    for rec in windows_of("oneills", "test-tune", notes, [0.0, 4.0, 8.0], cfg, "train"):
        played = score.decode(rec["tokens"])  # canonical key (tonic C)
        beats = rec["beats"]
        assert rec["notes_per_beat"] == pytest.approx(
            len({n.onset for n in played}) / beats, rel=1e-3)
        assert (score.NAMES[rec["tonic"]], rec["mode"]) == ("A", "minor")
        assert f"{rec['tempo']:.0f} bpm" in rec["caption"] and "A minor" in rec["caption"]
        assert score.detect_key(played)[:2] == (0, "minor")


def test_a_corpus_window_sounds_on_an_instrument_of_its_feeling():
    """A slow minor window is played on a soft, dull instrument, a fast major one on a
    bright, struck one, most of the time: the timbre cue a plan can learn from a painting."""
    import random

    from trainer.data.note_corpus import choose_rendering

    rng = random.Random(0)
    calm_minor = [choose_rendering(rng, 0.05, major=False)[2] for _ in range(200)]
    lively_major = [choose_rendering(rng, 0.95, major=True)[2] for _ in range(200)]
    assert sum(i in ("choir", "strings") for i in calm_minor) / 200 >= 0.7
    assert sum(i in ("marimba", "piano") for i in lively_major) / 200 >= 0.7
    # still a draw, not a rule: each feeling is heard on more than one instrument
    assert len(set(calm_minor)) >= 2 and len(set(lively_major)) >= 2
    every = {choose_rendering(rng, rng.random(), rng.random() < 0.5)[2] for _ in range(2000)}
    assert not every & {"flute", "clarinet", "accordion"}  # the presets that flutter


def test_tokens_round_trip_notes_on_the_grid():
    notes = [Note(0.0, 1.0, 60), Note(0.0, 1.0, 64), Note(1.5, 0.5, 67), Note(5.25, 2.0, 72)]
    back = score.decode(score.encode(notes, beats=8.0))
    assert sorted((n.onset, n.duration, n.pitch) for n in back) == \
        sorted((n.onset, n.duration, n.pitch) for n in notes)


def test_midi_round_trips():
    notes = [Note(0.0, 1.0, 60, 90, 0), Note(0.5, 0.5, 67, 70, 1), Note(2.0, 1.5, 64, 100, 0)]
    tmp = score.to_midi_bytes(notes, bpm=96.0, program=48)
    import io

    import mido

    back, bpm = _read(tmp)
    assert bpm == pytest.approx(96.0, abs=0.01)
    assert sorted((n.onset, n.duration, n.pitch, n.velocity) for n in back) == \
        sorted((n.onset, n.duration, n.pitch, n.velocity) for n in notes)
    first_part = mido.MidiFile(file=io.BytesIO(tmp)).tracks[1]
    assert [m.program for m in first_part if m.type == "program_change"] == [48]


def _read(data: bytes):
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".mid") as f:
        f.write(data)
        f.flush()
        return score.read_midi(f.name)


@needs_soundfont
def test_a_seed_replays_the_notes_exactly_and_another_seed_plays_others(notes_engine):
    a = notes_engine.generate(EXAMPLE_PAINTING, "the stars dance", seed=3)
    b = notes_engine.generate(EXAMPLE_PAINTING, "the stars dance", seed=3)
    c = notes_engine.generate(EXAMPLE_PAINTING, "the stars dance", seed=4)
    assert a.notes == b.notes and a.plan == b.plan and np.array_equal(a.audio, b.audio)
    assert a.notes != c.notes
    # no seed: the painting keys the draw, so the same inputs replay too
    u1 = notes_engine.generate(EXAMPLE_PAINTING, "the stars dance")
    u2 = notes_engine.generate(EXAMPLE_PAINTING, "the stars dance")
    assert u1.notes == u2.notes


@needs_soundfont
def test_a_pinned_control_is_obeyed(notes_engine, tmp_path):
    pins = Pins(tempo_bpm=72, key="A minor", instrument="flute", dynamic="pp")
    clip = notes_engine.generate(EXAMPLE_PAINTING, "a quiet night", seed=1, pins=pins)
    p = clip.plan
    assert (p.tempo_bpm, p.key, p.instrument) == (72.0, "A minor", "flute")
    assert "72 bpm · A minor" in p.describe() and " pp " in f" {p.describe()} "
    assert all(n.onset * 60 / 72 < clip.duration_s for n in clip.notes)
    midi = clip.save_midi(tmp_path / "clip.mid")
    notes, bpm = score.read_midi(midi)
    assert bpm == pytest.approx(72.0, abs=0.01) and len(notes) == len(clip.notes)
    with pytest.raises(BadInputError, match="tempo 500"):
        Pins(tempo_bpm=500)
    with pytest.raises(BadInputError, match="instrument 'kazoo'"):
        Pins(instrument="kazoo")


@needs_soundfont
def test_hints_that_name_an_instrument_play_it_unless_one_is_pinned(notes_engine):
    def instrument(hints, pins=None):
        return notes_engine.generate(EXAMPLE_PAINTING, "a quiet night", hints, seed=1,
                                     pins=pins).plan.instrument

    assert instrument("Orchestra; dreamy strings") == "strings"
    assert instrument("Jazz; mellow piano") == "piano"
    assert instrument("Orchestra; solo harp") == "harp"  # the named instrument wins
    assert instrument("Orchestra") == "strings"
    assert instrument("mellow piano; Violin, fiddle") == "piano"  # first named, as typed
    assert instrument("dreamy strings", Pins(instrument="flute")) == "flute"
    # an AudioSet label names one too, and other pins keep theirs
    clip = notes_engine.generate(EXAMPLE_PAINTING, "a quiet night", "Electric piano", seed=1,
                                 pins=Pins(tempo_bpm=70))
    assert (clip.plan.instrument, clip.plan.tempo_bpm) == ("piano", 70.0)


def test_hints_that_name_no_instrument_leave_it_to_the_painting_and_comment():
    assert hinted_instrument(["dreamy", "warm", "Jazz"]) is None
    assert hinted_instrument([]) is None
    assert with_hinted_instrument(None, ["calm"]) is None
    assert with_hinted_instrument(Pins(key="A minor"), ["calm"]) == Pins(key="A minor")


@needs_soundfont
def test_table_iv_feeds_the_starter_features_and_pins_the_references_instrument():
    """An ablation on the shipped starter: its image and text features differ in size
    (1296 and 384), zeroed or noisy stand-ins are taken, and a pinned instrument is obeyed."""
    import torch

    from a2m_core.paths import STARTER

    engine = Art2Music.load(STARTER, device="cpu")
    img = engine.encoder.encode_images([EXAMPLE_PAINTING] * 2)
    txt = engine.encoder.encode_texts(["a quiet harbour at dusk", "a storm over the fields"])
    assert img.shape[1] != txt.shape[1]
    clips = engine.generate_from_features(torch.zeros_like(img), txt, [1, 2],
                                          pins=[Pins(instrument="harp"), None])
    assert clips[0].plan.instrument == "harp" and clips[1].plan is not None
    n = round(engine.mel_config.duration_s * engine.sample_rate)
    assert all(c.audio.shape == (n, engine.channels) for c in clips)
    with pytest.raises(BadInputError, match="one seed per row"):
        engine.generate_from_features(img, txt, [1])


def test_a_soundfont_with_the_wrong_sha256_is_refused_in_one_line(tmp_path):
    sf2 = tmp_path / "fake.sf2"
    sf2.write_bytes(b"RIFF not really a soundfont")
    bad = SamplerConfig(soundfont=SoundFontRef(str(sf2), "0" * 64, "fluid-soundfont-gm"))
    path = build_debug_bundle(tmp_path / "b.safetensors", config=tiny_notes_config(bad))
    with pytest.raises(ModelLoadError) as err:
        Art2Music.load(path, device="cpu")
    assert "sha256" in str(err.value) and "\n" not in str(err.value)
    missing = dataclasses.replace(bad, soundfont=SoundFontRef(
        str(tmp_path / "gone.sf2"), "0" * 64, "fluid-soundfont-gm"))
    path = build_debug_bundle(tmp_path / "c.safetensors", config=tiny_notes_config(missing))
    with pytest.raises(ModelLoadError, match="apt-get install fluid-soundfont-gm"):
        Art2Music.load(path, device="cpu")


@needs_soundfont
def test_a_well_formed_soundfont_that_plays_silence_is_refused_not_written(tmp_path):
    """Corrupt sample headers (shdr zeroed) leave a SoundFont that parses and plays
    nothing: loading it says so, instead of writing a silent clip and calling it music."""
    import hashlib
    import os

    data = bytearray(Path(FLUID_R3_GM.path).read_bytes())
    at = data.rindex(b"shdr")
    size = int.from_bytes(data[at + 4:at + 8], "little")
    data[at + 8:at + 8 + size] = bytes(size)
    broken = tmp_path / "broken.sf2"
    broken.write_bytes(bytes(data))
    ref = SoundFontRef(str(broken), hashlib.sha256(data).hexdigest(), "fluid-soundfont-gm")
    path = build_debug_bundle(tmp_path / "b.safetensors",
                              config=tiny_notes_config(SamplerConfig(soundfont=ref)))
    with pytest.raises(ModelLoadError, match="silence") as err:
        Art2Music.load(path, device="cpu")
    assert "\n" not in str(err.value)
    for odd in (tmp_path / "folder.sf2", tmp_path / "pipe.sf2"):
        odd.mkdir() if odd.name.startswith("folder") else os.mkfifo(odd)
        cfg = SamplerConfig(soundfont=SoundFontRef(str(odd), "0" * 64, "fluid-soundfont-gm"))
        bundle = build_debug_bundle(tmp_path / f"{odd.stem}.safetensors",
                                    config=tiny_notes_config(cfg))
        with pytest.raises(ModelLoadError) as err:
            Art2Music.load(bundle, device="cpu")
        assert "missing" not in str(err.value)
        assert ("folder" if odd.is_dir() else "not a regular file") in str(err.value)


@needs_soundfont
def test_a_notes_bundle_and_a_mel_bundle_both_load_generate_and_stream(notes_engine, engine):
    for eng in (notes_engine, engine):
        clip = eng.generate(EXAMPLE_PAINTING, "the swirling sky feels alive", seed=2)
        frames = round(eng.mel_config.duration_s * eng.sample_rate)  # notes: 44.1 kHz stereo
        assert clip.audio.shape == ((frames,) if eng.channels == 1 else (frames, 2))
        assert clip.mel.shape == (eng.mel_config.n_mels, eng.mel_config.n_frames)
        chunks = list(eng.generate_stream(EXAMPLE_PAINTING, "the swirling sky feels alive",
                                          seed=2))
        assert chunks[0].mel is not None and chunks[-1].clip is not None
        streamed = np.concatenate([c.audio for c in chunks])
        assert streamed.shape == clip.audio.shape
    assert clip.plan is None and notes_engine.generate(EXAMPLE_PAINTING, "x", seed=1).plan
    # one-shot and stream are the same clip for a notes bundle, level included
    one = notes_engine.generate(EXAMPLE_PAINTING, "calm water", seed=5)
    st = np.concatenate([c.audio for c in notes_engine.generate_stream(
        EXAMPLE_PAINTING, "calm water", seed=5)])
    assert np.array_equal(one.audio, st)
    # progress names what a notes bundle does (no mel is decoded before the sound)
    stages = []
    notes_engine.generate(EXAMPLE_PAINTING, "calm water", seed=5,
                          progress=lambda stage, fraction: stages.append(stage))
    assert stages == ["encode", "notes", "done"]


def test_a_mel_bundle_refuses_pins_and_midi_with_a_reason(engine, tmp_path):
    with pytest.raises(BadInputError, match="notes bundle"):
        engine.generate(EXAMPLE_PAINTING, "x", pins=Pins(tempo_bpm=90))
    clip = engine.generate(EXAMPLE_PAINTING, "x", seed=1)
    with pytest.raises(BadInputError, match="no notes"):
        clip.save_midi(tmp_path / "x.mid")


@needs_soundfont
def test_the_cli_prints_the_plan_pins_controls_and_writes_midi(notes_bundle, tmp_path, capsys):
    from a2m_app.cli import main

    out, mid = tmp_path / "c.wav", tmp_path / "c.mid"
    assert main(["generate", "--bundle", str(notes_bundle), "--image", str(EXAMPLE_PAINTING),
                 "--comment", "a storm", "--tempo", "150", "--key", "D", "--mode", "minor",
                 "--instrument", "piano", "-q", "-o", str(out), "--midi", str(mid)]) == 0
    printed = capsys.readouterr().out
    assert "plan: 150 bpm · D minor" in printed and "piano" in printed
    assert "why:  painting: " in printed and "pinned: instrument, key, mode, tempo" in printed
    assert out.is_file() and score.read_midi(mid)[1] == pytest.approx(150.0, abs=0.01)


@needs_soundfont
def test_the_cli_plays_a_painting_without_a_comment(notes_bundle, tmp_path, capsys):
    from a2m_app.cli import main

    out = tmp_path / "silent-visitor.wav"
    assert main(["generate", "--bundle", str(notes_bundle), "--image", str(EXAMPLE_PAINTING),
                 "-q", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "no comment: the painting leads" in printed and out.is_file()


def test_the_step_by_step_sampler_hears_what_teacher_forcing_computes():
    """Generation runs the GRU's cells one token at a time; it must give the same
    next-token scores as the network trained on whole sequences."""
    import torch

    import a2m_core.notes.model as model_mod
    from a2m_core.notes.model import NoteModel, NotesConfig

    torch.manual_seed(0)
    net = NoteModel(NotesConfig(input_dim=8, embed=16, hidden=24, layers=2)).eval()
    controls, fused = torch.randn(9), torch.randn(8)
    seen = []
    real = model_mod.nucleus

    def spy(logits, top_p, rng):
        seen.append(logits.copy())
        return real(logits, top_p, rng)

    model_mod.nucleus = spy
    try:
        tokens = net.sample(controls, fused, bars=2, gen=torch.Generator().manual_seed(1))
    finally:
        model_mod.nucleus = real
    with torch.no_grad():
        ref = net(torch.tensor([tokens[:-1]]), controls.view(1, -1), fused.view(1, -1))[0]
    ref = (ref / net.cfg.note_temperature).numpy()
    import numpy as np

    for step, logits in enumerate(seen):
        ok = np.isfinite(logits)
        assert np.allclose(logits[ok], ref[step][ok], atol=1e-5)
    assert score.decode(tokens)  # and what it drew is notes


def test_keys_are_taken_as_people_write_them_and_nonsense_is_refused():
    for text, key in [("Am", "A minor"), ("F#m", "F# minor"), ("f sharp minor", "F# minor"),
                      ("Bb", "Bb"), ("B♭ major", "Bb major"), ("Eb min", "Eb minor"),
                      ("e flat major", "Eb major"), ("G# minor", "Ab minor"), ("bm", "B minor")]:
        plan = Pins(key=text).apply(Pins(key="C major").apply(_any_plan()))
        assert plan.key.startswith(key.split()[0]), (text, plan.key)
        if " " in key:
            assert plan.key == key, (text, plan.key)
    for bad in ("A minor minor", "H", "minor", "A dorian", "Am7"):
        with pytest.raises(BadInputError, match="is not a key"):
            Pins(key=bad)


def _any_plan():
    from a2m_core.notes.plan import Plan

    return Plan(tempo_bpm=100.0, tonic=0, mode="major", notes_per_beat=1.0, register=60.0,
                articulation=1.0, velocity=80.0, instrument="piano", texture="melody")


def test_a_clip_s_midi_says_its_tempo_key_parts_and_plan_to_a_daw(notes_engine, tmp_path):
    import mido

    from a2m_core.notes.plan import INSTRUMENTS

    clip = notes_engine.generate(EXAMPLE_PAINTING, "the sea at night", seed=5,
                                 pins=Pins(key="F# minor", instrument="harp", texture="chords"))
    mid = mido.MidiFile(str(clip.save_midi(tmp_path / "clip.mid")))
    conductor = {m.type: m for m in mid.tracks[0] if m.is_meta}
    assert conductor["key_signature"].key == "F#m"
    assert mido.tempo2bpm(conductor["set_tempo"].tempo) == pytest.approx(clip.plan.tempo_bpm,
                                                                          abs=0.01)
    assert conductor["text"].text.startswith(clip.plan.describe()[:20])
    assert "why: " in conductor["text"].text and "->" in conductor["text"].text
    parts = mid.tracks[1:]
    assert len(parts) == len({n.part for n in clip.notes}) >= 1
    for track in parts:
        names = [m.name for m in track if m.type == "track_name"]
        programs = {m.program for m in track if m.type == "program_change"}
        assert names and names[0].startswith("harp") and programs == {INSTRUMENTS["harp"][0]}


def test_a_genre_the_model_cannot_play_is_said_in_one_line_never_ignored(notes_bundle,
                                                                          tmp_path, capsys):
    from a2m_app.cli import main
    from a2m_core.notes.styles import genre_note

    assert genre_note(["Jazz; mellow piano"]) == (
        "'Jazz' is not a style this model plays (it plays folk tunes and chorales): the "
        "nearest it has is folk")
    assert genre_note(["Orchestra; dreamy strings"]) is None  # no genre: nothing to say
    assert genre_note(["Irish folk"]) is None and genre_note(["hymn"]) is None  # playable
    assert "nearest it has is chorale" in genre_note(["Gospel"])
    assert main(["generate", "--image", str(EXAMPLE_PAINTING), "--bundle", str(notes_bundle),
                 "--hints", "Techno", "-q", "-o", str(tmp_path / "t.wav")]) == 0
    out = capsys.readouterr()
    notes = [line for line in out.err.splitlines() if "Techno" in line]
    assert notes == ["a2m: note: 'Techno' is not a style this model plays (it plays folk "
                     "tunes and chorales): the nearest it has is folk"]
    assert "'Techno' is not played here (nearest: folk)" in out.out  # the why-line too
