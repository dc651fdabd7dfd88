"""Both training stages, resume after a stop, torchrun on CPU, export, and Table IV."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from a2m_core import Art2Music
from a2m_core.bundle import load_bundle
from trainer.data import BuildConfig, build_articaps
from trainer.evaluate.table4 import SETTINGS, evaluate_table4
from trainer.export import export_bundle
from trainer.train.common import load_checkpoint
from trainer.train.detail import DetailConfig, train_detail
from trainer.train.stage1 import Stage1Config, train_stage1
from trainer.train.stage2 import Stage2Config, train_stage2

from ..conftest import REPO

TINY_S1 = dict(batch_size=4, hidden=16, decoder_hidden=16, decoder_layers=1, lr=1e-3,
               log_every=1, device="cpu")
TINY_HIFI = {"upsample_initial_channel": 16, "resblock_kernel_sizes": [3],
             "resblock_dilation_sizes": [[1, 3]]}


@pytest.fixture(scope="module")
def dataset(shared_data, tiny_bundle, tmp_path_factory) -> Path:
    bundle = load_bundle(tiny_bundle)
    out = tmp_path_factory.mktemp("train") / "articaps"
    build_articaps(BuildConfig(
        artemis=shared_data / "artemis" / "artemis_sample.csv", images=shared_data / "wikiart",
        musiccaps=shared_data / "music_clips" / "musiccaps_sample.csv",
        audio=shared_data / "music_clips", out=out, encoder=bundle.config.encoder,
        encoder_state=bundle.part("encoder")))
    return out


@pytest.fixture(scope="module")
def stage1_run(dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stage1")
    train_stage1(dataset, out, Stage1Config(epochs=40, **TINY_S1))
    return out


def events(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]


def test_stage1_learns_and_logs_structured_lines(stage1_run):
    log = events(stage1_run)
    steps = [e for e in log if e["event"] == "step"]
    assert {"epoch", "step", "loss", "samples_per_s", "eta_s", "total_steps"} <= set(steps[0])
    assert steps[-1]["loss"] < 0.7 * steps[0]["loss"]  # it fits the training mels
    vals = [e for e in log if e["event"] == "val"]
    assert len(vals) == 40 and log[-1]["event"] == "done"
    best = load_checkpoint(stage1_run / "best.pt")
    assert best["val_loss"] == pytest.approx(min(v["val_loss"] for v in vals), abs=1e-5)
    assert "optimizer" not in best  # inference weights apart from training state


def test_projector_is_trained_too(stage1_run, dataset):
    from trainer.data import ArtiCaps
    from trainer.train.stage1 import build_model

    torch.manual_seed(0)
    fresh = build_model(ArtiCaps.open(dataset), Stage1Config(**TINY_S1))
    trained = load_checkpoint(stage1_run / "best.pt")["projector"]
    assert not torch.allclose(trained["linear.0.weight"], fresh.projector.linear[0].weight)


def test_a_stopped_run_resumes_to_the_same_weights(dataset, tmp_path):
    cfg = Stage1Config(epochs=3, **TINY_S1)
    train_stage1(dataset, tmp_path / "straight", cfg)
    stop = threading.Event()

    def stop_at_3(e):
        if e["event"] == "step" and e["step"] == 3:
            stop.set()  # the user presses Stop mid-epoch

    train_stage1(dataset, tmp_path / "resumed", cfg, callback=stop_at_3, stop=stop)
    assert load_checkpoint(tmp_path / "resumed" / "last.pt")["step"] == 3
    # a kill -9 in the middle of a checkpoint write leaves its temp file: resume sweeps it
    half = tmp_path / "resumed" / ".last.pt.a2m-tmp.k1ll3d.pt"
    half.write_bytes(b"half a checkpoint")
    train_stage1(dataset, tmp_path / "resumed", cfg)
    assert not half.exists()
    a = load_checkpoint(tmp_path / "straight" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "resumed" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(e["event"] == "resumed" for e in events(tmp_path / "resumed"))


def test_resume_refuses_another_architecture(dataset, stage1_run):
    with pytest.raises(ValueError, match="another architecture"):
        train_stage1(dataset, stage1_run, Stage1Config(epochs=1, **{**TINY_S1, "hidden": 8}))


def test_resume_refuses_another_recipe_but_not_more_epochs(dataset, stage1_run):
    # a finished run asked for with other losses must not come back as the new model
    with pytest.raises(ValueError, match=r"other settings \(movement_weight 0.0 -> 2.0"):
        train_stage1(dataset, stage1_run, Stage1Config(epochs=40, movement_weight=2.0,
                                                       **TINY_S1))
    train_stage1(dataset, stage1_run, Stage1Config(epochs=40, **{**TINY_S1, "log_every": 5}))


@pytest.fixture(scope="module")
def latent_run(dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("latent")
    train_stage1(dataset, out, Stage1Config(epochs=4, frames_per_step=8, latent_dim=8,
                                            latent_segments=2, keep="last", **TINY_S1))
    return out


TINY_DETAIL = dict(channels=8, blocks=2, euler_steps=2, batch_size=2, crop_frames=64,
                   log_every=1, checkpoint_every=5)


def test_the_detail_flow_trains_on_a_finished_stage1_and_exports_a_bundle_that_plays_it(
        dataset, latent_run, tmp_path, paintings):
    best = train_detail(dataset, latent_run, tmp_path / "detail",
                        DetailConfig(steps=40, lr=3e-3, **TINY_DETAIL))
    log = events(tmp_path / "detail")
    steps = [e["loss"] for e in log if e["event"] == "step"]
    # an untrained flow's loss is E|x1 - x0|^2; it learns the residuals' distribution
    assert np.mean(steps[-10:]) < 0.92 * np.mean(steps[:3])
    assert log[-1]["event"] == "done" and np.isfinite(log[-1]["val_flow_loss"])
    out = export_bundle(best, tmp_path / "detail.safetensors", name="tiny-detail")
    cfg = load_bundle(out).config
    assert cfg.decoder.detail_channels == 8
    # the bundle says which loss is whose: stage 1's L1, the flow's own loss beside it
    s1_val = load_checkpoint(latent_run / "best.pt")["val_loss"]
    assert cfg.provenance["stage1_val_loss"] == pytest.approx(s1_val, abs=1e-5)
    assert np.isfinite(cfg.provenance["detail_val_flow_loss"])
    engine = Art2Music.load(out, device="cpu")
    a, b, c = (engine.generate(paintings[0], "a storm of feelings", seed=s).mel
               for s in (1, 1, 2))
    assert np.array_equal(a, b) and not np.allclose(a, c)
    # the stage-1 weights it was built on are the ones the bundle plays
    s1 = load_checkpoint(latent_run / "last.pt")["model"]
    dec = load_bundle(out).part("decoder")
    assert torch.equal(dec["lstm.weight_hh_l0"], s1["decoder.lstm.weight_hh_l0"])


def test_a_stopped_detail_run_resumes_to_the_same_flow(dataset, latent_run, tmp_path):
    cfg = DetailConfig(steps=8, **TINY_DETAIL)
    train_detail(dataset, latent_run, tmp_path / "straight", cfg)
    stop = threading.Event()

    def stop_at_5(e):
        if e["event"] == "step" and e["step"] == 5:
            stop.set()

    train_detail(dataset, latent_run, tmp_path / "resumed", cfg, callback=stop_at_5, stop=stop)
    assert not (tmp_path / "resumed" / "best.pt").exists()
    train_detail(dataset, latent_run, tmp_path / "resumed", cfg)
    a = load_checkpoint(tmp_path / "straight" / "last.pt")["flow"]
    b = load_checkpoint(tmp_path / "resumed" / "last.pt")["flow"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="other settings"):
        train_detail(dataset, latent_run, tmp_path / "resumed",
                     DetailConfig(steps=8, **{**TINY_DETAIL, "channels": 16}))


def test_the_detail_flow_needs_a_finished_latent_stage1(dataset, stage1_run, tmp_path):
    with pytest.raises(ValueError, match="performance latent"):
        train_detail(dataset, stage1_run, tmp_path / "d", DetailConfig(steps=2, **TINY_DETAIL))


def test_torchrun_with_two_cpu_processes(dataset, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    res = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "trainer.cli", "stage1", "--dataset", str(dataset), "--out", str(tmp_path),
         "--epochs", "2", "--batch-size", "2", "--hidden", "16", "--decoder-hidden", "16",
         "--decoder-layers", "1", "--device", "cpu", "--json-progress"],
        capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    log = events(tmp_path)
    assert (tmp_path / "best.pt").exists() and log[-1]["event"] == "done"
    # 7 training pairs over 2 ranks at batch 2 -> 2 steps per epoch; rank 0 alone logs
    assert log[-1]["step"] == 4 and sum(e["event"] == "val" for e in log) == 2


@pytest.fixture(scope="module")
def stage2_run(dataset, stage1_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stage2")
    train_stage2(dataset, out, Stage2Config(
        hifigan="v1", hifigan_overrides=TINY_HIFI, stage1=str(stage1_run / "best.pt"),
        segment=2048, batch_size=2, max_steps=3, checkpoint_every=2, sample_every=3,
        log_every=1, device="cpu"))
    return out


def test_stage2_trains_on_real_and_predicted_mels_and_writes_samples(stage2_run):
    log = events(stage2_run)
    steps = [e for e in log if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3]
    assert all(np.isfinite(e["loss_g"]) and np.isfinite(e["loss_d"]) for e in steps)
    assert any(e["event"] == "val" for e in log)
    g = torch.load(stage2_run / "g_00000003", weights_only=True)
    assert "conv_pre.weight_g" in g["generator"]  # official layout, weight norm kept
    assert list((stage2_run / "samples").glob("step00000003_*.wav"))


def test_stage2_resume_matches_an_uninterrupted_run(dataset, tmp_path):
    base = dict(hifigan="v1", hifigan_overrides=TINY_HIFI, segment=2048, batch_size=2,
                checkpoint_every=1, sample_every=100, device="cpu")
    train_stage2(dataset, tmp_path / "a", Stage2Config(max_steps=3, **base))
    train_stage2(dataset, tmp_path / "b", Stage2Config(max_steps=2, **base))
    train_stage2(dataset, tmp_path / "b", Stage2Config(max_steps=3, **base))
    a = torch.load(tmp_path / "a" / "g_00000003", weights_only=True)["generator"]
    b = torch.load(tmp_path / "b" / "g_00000003", weights_only=True)["generator"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_export_gives_a_bundle_the_engine_plays(stage1_run, stage2_run, tmp_path, paintings):
    out = export_bundle(stage1_run / "best.pt", tmp_path / "trained.safetensors",
                        generator=stage2_run / "g_00000003", name="tiny-trained")
    engine = Art2Music.load(out, device="cpu")
    assert engine.vocoder_name.startswith("HiFi-GAN") and engine.config.encoder.weights_in_bundle
    clip = engine.generate(paintings[0], "a storm of feelings", seed=1)
    assert clip.audio.shape == (896 * 256,) and np.isfinite(clip.audio).all()
    gl = export_bundle(stage1_run / "best.pt", tmp_path / "gl.safetensors")
    assert load_bundle(gl).config.vocoder.kind == "griffin-lim"


def test_table4_report_has_the_papers_layout(stage1_run, dataset, tmp_path):
    bundle = export_bundle(stage1_run / "best.pt", tmp_path / "b.safetensors")
    result = evaluate_table4(bundle, dataset, split="val", out=tmp_path, device="cpu")
    assert list(result["settings"]) == list(SETTINGS) and result["pairs"] == 3
    for row in result["settings"].values():
        assert all(np.isfinite(v) for v in row.values())
    assert not result["comparable_to_paper"]
    md = (tmp_path / "table4.md").read_text()
    assert "| full input |" in md and "not comparable" in md
    assert json.loads((tmp_path / "table4.json").read_text())["split"] == "val"
    # The musicality report: the generated clips' figures beside the references', and a
    # picture of the items that move least and most.
    m = result["musicality"]
    assert len(m["items"]) == 3 and set(m["generated"]) == {"band_std", "onsets", "flux",
                                                             "drift"}
    assert m["reference"]["band_std"] > 0 and len(m["worst_best"]) == 2
    assert "## Does it move like music?" in md and "| reference |" in md
    assert (tmp_path / "musicality.png").read_bytes()[:4] == b"\x89PNG"


def test_stage2_starts_from_official_generator_and_discriminator_files(dataset, tmp_path):
    from a2m_core.mel import HiFiGANConfig, HiFiGANGenerator
    from a2m_core.mel.discriminators import MultiPeriodDiscriminator, MultiScaleDiscriminator

    torch.manual_seed(42)
    cfg = HiFiGANConfig.from_dict({**HiFiGANConfig.preset("v1").to_dict(), **TINY_HIFI})
    gen, mpd, msd = HiFiGANGenerator(cfg), MultiPeriodDiscriminator(), MultiScaleDiscriminator()
    torch.save({"generator": gen.state_dict()}, tmp_path / "g_02500000")
    torch.save({"mpd": mpd.state_dict(), "msd": msd.state_dict(), "steps": 2500000,
                "epoch": 3000}, tmp_path / "do_02500000")
    train_stage2(dataset, tmp_path / "run", Stage2Config(
        hifigan="v1", hifigan_overrides=TINY_HIFI, init_generator=str(tmp_path / "g_02500000"),
        init_discriminator=str(tmp_path / "do_02500000"), lr=0.0, segment=2048, batch_size=1,
        max_steps=1, sample_every=100, device="cpu"))
    saved = torch.load(tmp_path / "run" / "g_00000001", weights_only=True)["generator"]
    assert all(torch.equal(saved[k], v) for k, v in gen.state_dict().items())
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert all(torch.equal(last["mpd"][k], v) for k, v in mpd.state_dict().items())


def test_refused_checkpoints_are_one_line_and_kept(dataset, tiny_bundle, tmp_path, capsys):
    from trainer.cli import main as train_main

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x80\x02not a checkpoint at all")
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes(bad.read_bytes())
    cases = [
        (["export", "--stage1", str(bad), "-o", str(tmp_path / "x.safetensors")], "bad.pt"),
        (["stage2", "--stage1", str(bad), "--dataset", str(dataset), "--out",
          str(tmp_path / "s2")], "bad.pt"),
        (["stage1", "--dataset", str(dataset), "--out", str(run), "--epochs", "1"], "last.pt"),
        (["evaluate", "--bundle", str(tiny_bundle), "--dataset", str(dataset), "--vggish",
          str(bad)], "bad.pt"),
    ]
    for argv, name in cases:
        assert train_main(argv) == 1, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("a2m-train: error: ") and name in err, err
        assert "\n" not in err and "Traceback" not in err, err
    assert (run / "last.pt").read_bytes() == bad.read_bytes()  # nothing was overwritten
    assert not (tmp_path / "x.safetensors").exists()


def test_table4_with_musicnn_names_its_embedding_and_says_if_music_feels_like_comments(
        stage1_run, dataset, tmp_path, capsys):
    pytest.importorskip("musicnn", reason="the [eval] extra (musicnn) is not installed")
    from trainer.cli import main as train_main

    bundle = export_bundle(stage1_run / "best.pt", tmp_path / "b.safetensors")
    out = tmp_path / "eval"
    assert train_main(["evaluate", "--bundle", str(bundle), "--dataset", str(dataset),
                       "--split", "val", "--embedding", "musicnn", "--out", str(out),
                       "--device", "cpu"]) == 0
    md = (out / "table4.md").read_text()
    assert "FAD-musicnn" in md and "cosine-musicnn" in md and "musicnn MSD_musicnn" in md
    assert "## Does the music feel like the comment?" in md and "| valence |" in md
    assert "## Does it move like music?" in md
    result = json.loads((out / "table4.json").read_text())
    assert result["embedding_label"] == "musicnn" and result["feeling"]["items"] == 3
    assert all(np.isfinite(v) for row in result["settings"].values() for v in row.values())
    # The full-input clips and their items, ready for `a2m-train rate --batch OUT`.
    import csv

    rows = list(csv.DictReader((out / "items.csv").open()))
    assert len(rows) == 3 and all((out / r["audio"]).is_file() for r in rows)
    assert {"image", "comment", "audio"} <= set(rows[0])
