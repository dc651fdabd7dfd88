"""Stage-1 and stage-2 modules: reference parameter names, shapes, and hand-checked losses."""
from __future__ import annotations

import pytest
import torch

from a2m_core.mel import (
    DecoderConfig,
    HiFiGANConfig,
    HiFiGANGenerator,
    MelDecoder,
)
from a2m_core.mel.discriminators import MultiPeriodDiscriminator, MultiScaleDiscriminator
from a2m_core.mel.losses import (
    discriminator_loss,
    feature_loss,
    frequency_weighted_l1,
    frequency_weights,
    generator_loss,
)
from a2m_core.projector import GatedResidualProjector, ProjectorConfig


def test_projector_has_the_reference_names_and_fuses_to_512():
    proj = GatedResidualProjector(ProjectorConfig())
    shapes = {k: tuple(v.shape) for k, v in proj.state_dict().items()}
    assert shapes == {
        "linear.0.weight": (512, 2048), "linear.0.bias": (512,),
        "linear.2.weight": (512, 512), "linear.2.bias": (512,),
        "gate.0.weight": (512, 512), "gate.0.bias": (512,),
        "residual.weight": (512, 1024), "residual.bias": (512,),
    }
    assert proj(torch.randn(3, 1024), torch.randn(3, 1024)).shape == (3, 512)


def test_projector_paper_form_gates_on_output_and_residual():
    proj = GatedResidualProjector(ProjectorConfig(gate_input="paper"))
    assert proj.gate[0].weight.shape == (512, 1024)
    assert proj(torch.randn(2, 1024), torch.randn(2, 1024)).shape == (2, 512)


def test_projector_blends_mlp_and_residual_by_the_gate():
    proj = GatedResidualProjector(ProjectorConfig(text_dim=4, image_dim=4, hidden=4))
    with torch.no_grad():  # gate forced fully open -> output is the MLP branch alone
        proj.gate[0].weight.zero_()
        proj.gate[0].bias.fill_(50.0)
    t, i = torch.randn(1, 4), torch.randn(1, 4)
    assert torch.allclose(proj(t, i), proj.linear(torch.cat([t, i], -1)), atol=1e-6)


def test_decoder_has_the_reference_names_and_emits_896_by_80():
    dec = MelDecoder(DecoderConfig())
    keys = set(dec.state_dict())
    expected = {"feat_proj.weight", "feat_proj.bias", "pos_emb", "out_proj.weight",
                "out_proj.bias"}
    for k in range(4):
        for sfx in ("", "_reverse"):
            expected |= {f"lstm.weight_ih_l{k}{sfx}", f"lstm.weight_hh_l{k}{sfx}",
                         f"lstm.bias_ih_l{k}{sfx}", f"lstm.bias_hh_l{k}{sfx}"}
    assert keys == expected
    assert dec.pos_emb.shape == (1, 896, 512) and dec.out_proj.weight.shape == (80, 1024)
    small = MelDecoder(DecoderConfig(input_dim=8, hidden=8, layers=1))
    assert small(torch.randn(2, 8)).shape == (2, 896, 80)


def test_a_latent_split_in_time_changes_only_its_own_stretch_of_the_clip():
    small = dict(input_dim=8, hidden=8, layers=1, frames_per_step=8)
    torch.manual_seed(0)
    one = MelDecoder(DecoderConfig(**small, latent_dim=4))
    torch.manual_seed(0)
    split1 = MelDecoder(DecoderConfig(**small, latent_dim=4, latent_segments=1))
    fused, z = torch.randn(2, 8), torch.randn(2, 4)
    # one segment is the single latent of every bundle so far: same weights, same mel
    assert split1.state_dict().keys() == one.state_dict().keys()
    assert torch.equal(split1(fused, z), one(fused, z))

    dec = MelDecoder(DecoderConfig(**small, latent_dim=14 * 2, latent_segments=14)).eval()
    assert dec.latent_proj.weight.shape == (8, 2)  # one projection shared by the segments
    z = torch.randn(2, 28)
    later = z.clone()
    later[:, -2:] += 3.0  # only the last segment (the last 64 of 896 frames)
    with torch.no_grad():
        a, b = dec(fused, z), dec(fused, later)
    # a unidirectional net would leave the frames before it alone; the BiLSTM carries the
    # change back, but the stretch itself moves most
    last, rest = (a - b)[:, -64:].abs().mean(), (a - b)[:, :-64].abs().mean()
    assert last > 2 * rest
    # the prior and the seeded draws see the flat vector, as before
    draw = dec.sample_latents(fused, [torch.Generator().manual_seed(i) for i in range(2)])
    assert draw.shape == (2, 28)
    with pytest.raises(ValueError, match="latent_segments"):
        DecoderConfig(**small, latent_dim=16, latent_segments=3)


def test_a_detail_flow_draws_seeded_detail_on_top_of_the_decoders_mel():
    small = dict(input_dim=8, hidden=8, layers=1, frames_per_step=8, latent_dim=4)
    torch.manual_seed(0)
    plain = MelDecoder(DecoderConfig(**small)).eval()
    torch.manual_seed(0)
    dec = MelDecoder(DecoderConfig(**small, detail_channels=8, detail_blocks=2,
                                   detail_steps=3)).eval()
    # the decoder's own weights are untouched: a plain decoder's state loads, minus the flow
    missing, unexpected = dec.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("detail.") for k in missing)
    torch.nn.init.normal_(dec.detail.out.weight, std=0.5)  # a trained flow moves the mel
    fused, z = torch.randn(2, 8), torch.randn(2, 4)

    def gens(seed):
        return [torch.Generator().manual_seed(seed + i) for i in range(2)]

    with torch.no_grad():
        mean = dec(fused, z)
        a, again, other = (dec.render(fused, z, gens(s)) for s in (1, 1, 5))
        quiet, quiet_again = dec.render(fused, z), dec.render(fused, z)
        assert torch.equal(plain.render(fused, z, gens(1)), plain(fused, z))
    assert a.shape == mean.shape == (2, 896, 80)
    assert torch.equal(a, again)  # a seed replays its clip
    assert (a - other).abs().mean() > 1e-3  # another seed draws other detail
    assert (a - mean).abs().mean() > 1e-3 and torch.equal(quiet, quiet_again)

    # guidance weighs what the feeling (fused vector) adds to the detail: w=1 is the plain
    # flow, w=0 the flow without the feeling, w=3 three times the feeling's part
    flow, m = dec.detail, mean.transpose(1, 2)
    with torch.no_grad():
        plain_draw = flow.sample(m, fused, gens(1), 3)
        assert torch.allclose(flow.sample(m, fused, gens(1), 3, guidance=1.0), plain_draw)
        free = flow.sample(m, torch.zeros_like(fused), gens(1), 3)
        assert torch.allclose(flow.sample(m, fused, gens(1), 3, guidance=0.0), free, atol=1e-5)
        strong = flow.sample(m, fused, gens(1), 3, guidance=3.0)
    assert (strong - free).abs().mean() > 1.5 * (plain_draw - free).abs().mean()


def official_generator_keys(cfg: HiFiGANConfig) -> set[str]:
    """Key names of jik876/hifi-gan's Generator with weight norm, written out from its layout."""
    wn = ("weight_g", "weight_v", "bias")
    keys = {f"conv_pre.{p}" for p in wn} | {f"conv_post.{p}" for p in wn}
    for i in range(len(cfg.upsample_rates)):
        keys |= {f"ups.{i}.{p}" for p in wn}
    nk = len(cfg.resblock_kernel_sizes)
    for b in range(len(cfg.upsample_rates) * nk):
        n_dil = len(cfg.resblock_dilation_sizes[b % nk])
        groups = ("convs1", "convs2") if cfg.resblock == "1" else ("convs",)
        for g in groups:
            keys |= {f"resblocks.{b}.{g}.{m}.{p}" for m in range(n_dil) for p in wn}
    return keys


@pytest.mark.parametrize("preset,millions", [("v1", 13.92), ("v2", 0.92), ("v3", 1.46)])
def test_hifigan_presets_match_the_official_layout_and_size(preset, millions):
    cfg = HiFiGANConfig.preset(preset)
    gen = HiFiGANGenerator(cfg)
    assert set(gen.state_dict()) == official_generator_keys(cfg)
    gen.remove_weight_norm()
    n = sum(p.numel() for p in gen.parameters()) / 1e6
    assert n == pytest.approx(millions, rel=0.01)  # the HiFi-GAN paper's Table 1 sizes


def test_v1_tensor_shapes_are_the_official_ones():
    sd = HiFiGANGenerator(HiFiGANConfig.preset("v1")).state_dict()
    assert sd["conv_pre.weight_v"].shape == (512, 80, 7)
    assert sd["ups.0.weight_v"].shape == (512, 256, 16)
    assert sd["ups.0.weight_g"].shape == (512, 1, 1)
    assert sd["resblocks.0.convs1.0.weight_v"].shape == (256, 256, 3)
    assert sd["resblocks.11.convs2.2.weight_v"].shape == (32, 32, 11)
    assert sd["conv_post.weight_v"].shape == (1, 32, 7)


@pytest.mark.parametrize("preset", ["v1", "v2", "v3"])
def test_generator_turns_t_frames_into_t_times_256_samples(preset):
    gen = HiFiGANGenerator(HiFiGANConfig.preset(preset)).remove_weight_norm().eval()
    with torch.no_grad():
        wave = gen(torch.randn(1, 80, 12))
    assert wave.shape == (1, 1, 12 * 256)
    assert wave.abs().max() <= 1.0


def test_removing_weight_norm_keeps_the_output():
    gen = HiFiGANGenerator(HiFiGANConfig.preset("v2")).eval()
    mel = torch.randn(1, 80, 8)
    with torch.no_grad():
        before = gen(mel)
        after = gen.remove_weight_norm()(mel)
    assert torch.allclose(before, after, atol=1e-5)
    assert "conv_pre.weight" in gen.state_dict() and "conv_pre.weight_g" not in gen.state_dict()


def test_discriminators_score_real_and_fake_waves():
    y, y_hat = torch.randn(2, 1, 4096), torch.randn(2, 1, 4096)
    mpd, msd = MultiPeriodDiscriminator(), MultiScaleDiscriminator()
    real, fake, fmap_r, fmap_g = mpd(y, y_hat)
    assert len(real) == 5 and all(len(f) == 6 for f in fmap_r)
    real, fake, fmap_r, fmap_g = msd(y, y_hat)
    assert len(real) == 3 and all(len(f) == 8 for f in fmap_g)
    names = set(msd.state_dict())
    assert "discriminators.0.convs.0.weight_orig" in names  # spectral norm on the raw scale
    assert "discriminators.1.convs.0.weight_g" in names and "meanpools.0" not in names
    assert "discriminators.4.conv_post.weight_v" in set(mpd.state_dict())


def test_frequency_weights_rise_from_1_to_1_5():
    w = frequency_weights(80)
    assert w[0] == 1.0 and w[-1] == pytest.approx(1.5) and torch.all(w[1:] > w[:-1])


def test_frequency_weighted_l1_by_hand():
    pred, target = torch.zeros(1, 2, 3), torch.ones(1, 2, 3)
    # weights 1.0, 1.25, 1.5 -> mean over T x F = 1.25
    assert frequency_weighted_l1(pred, target).item() == pytest.approx(1.25)
    target = torch.tensor([[[0.0, 0.0, 2.0]]])
    assert frequency_weighted_l1(torch.zeros(1, 1, 3), target).item() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        frequency_weighted_l1(torch.zeros(1, 2, 3), torch.zeros(1, 3, 2))


def test_gan_losses_by_hand():
    ones, zeros = [torch.ones(2, 3)], [torch.zeros(2, 3)]
    assert discriminator_loss(ones, zeros)[0].item() == 0.0  # perfect discriminator
    assert discriminator_loss(zeros, ones)[0].item() == 2.0
    assert generator_loss(ones)[0].item() == 0.0
    assert generator_loss([torch.full((4,), 0.5)])[0].item() == pytest.approx(0.25)
    fm = feature_loss([[torch.ones(3), torch.zeros(2)]], [[torch.zeros(3), torch.zeros(2)]])
    assert fm.item() == pytest.approx(2.0)  # 2 * (mean|1-0| + mean|0-0|)


def test_the_movement_loss_prefers_a_retimed_rendition_to_a_drone():
    from a2m_core.mel.losses import movement_statistics_l1

    torch.manual_seed(0)
    notes = torch.nn.functional.avg_pool1d(torch.rand(2, 80, 896) * 3 - 1.5, 5, 1, 2)
    target = notes.transpose(1, 2)  # [B, T, F]
    retimed = torch.roll(target, 137, dims=1)  # the same music, its notes elsewhere
    drone = torch.nn.functional.avg_pool1d(notes, 33, 1, 16).transpose(1, 2)
    loud_end = drone.clone()
    loud_end[:, -16:] = 1.0  # a few loud frames raise a std, not a whole distribution
    assert movement_statistics_l1(target, target).item() == pytest.approx(0.0, abs=1e-6)
    # The frame-aligned L1 prefers the drone; the movement loss prefers the rendition.
    assert frequency_weighted_l1(drone, target) < frequency_weighted_l1(retimed, target)
    assert movement_statistics_l1(retimed, target) < 0.25 * movement_statistics_l1(drone, target)
    assert movement_statistics_l1(loud_end, target) > 0.9 * movement_statistics_l1(drone, target)


def test_the_form_loss_refuses_one_loud_quiet_form_for_every_clip():
    from a2m_core.mel.losses import form_correlation_l1

    torch.manual_seed(0)
    # six real-like windows, each with its own slow loudness curve
    curves = torch.nn.functional.avg_pool1d(torch.randn(6, 1, 896) * 4, 129, 1, 64)
    target = curves.transpose(1, 2) + 0.3 * torch.randn(6, 896, 80)
    shared = curves[:1].transpose(1, 2).expand(6, -1, -1) + 0.3 * torch.randn(6, 896, 80)
    own = torch.roll(target, 3, dims=1)  # each clip keeps its own form
    assert form_correlation_l1(target, target).item() == pytest.approx(0.0, abs=1e-6)
    assert form_correlation_l1(own, target) < 0.2 * form_correlation_l1(shared, target)
    assert form_correlation_l1(shared[:1], target[:1]).item() == 0.0  # one clip: no pairs
