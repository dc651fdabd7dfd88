"""A MusicGen-small-sized model with random weights: the text-to-music speed baseline.

Built from the published musicgen-small configuration (T5-base text encoder, a 24-layer x
1024 decoder over 4 EnCodec codebooks, EnCodec 32 kHz at 50 frames/s), with random weights
(they cost the same as trained ones), nothing downloaded. 10 s of audio are 500 decoder
steps (+3 for the codebook delay pattern) with classifier-free guidance 3 (MusicGen's
default: the batch doubles), then one EnCodec decode.

Timing all 503 steps takes ~80 s on 2 cores; ``tokens`` times fewer steps and scales the
per-step time to 503 (the step cost grows slowly with the KV cache, so this slightly
underestimates MusicGen: it flatters the baseline, not us). The result says which it did.
"""
from __future__ import annotations

import time
from typing import Any

import torch

STEPS_10S = 503  # 50 frames/s x 10 s + 3 delay steps for 4 codebooks


def musicgen_small(seed: int = 0) -> Any:
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    text = T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12,
                    num_heads=12, feed_forward_proj="relu")
    audio = EncodecConfig(sampling_rate=32000, audio_channels=1, num_filters=64,
                          upsampling_ratios=[8, 5, 4, 4], codebook_size=2048,
                          hidden_size=128, target_bandwidths=[2.2], normalize=False,
                          use_causal_conv=False, norm_type="weight_norm", pad_mode="reflect",
                          num_lstm_layers=2, compress=2, trim_right_ratio=1.0)
    decoder = MusicgenDecoderConfig(vocab_size=2048, hidden_size=1024, num_hidden_layers=24,
                                    num_attention_heads=16, ffn_dim=4096, num_codebooks=4,
                                    max_position_embeddings=2048, audio_channels=1)
    torch.manual_seed(seed)
    model = MusicgenForConditionalGeneration(MusicgenConfig(text_encoder=text,
                                                            audio_encoder=audio,
                                                            decoder=decoder))
    model.generation_config.pad_token_id = 2048
    model.generation_config.decoder_start_token_id = 2048
    model.generation_config.guidance_scale = 3.0
    return model.eval()


@torch.inference_mode()
def time_musicgen(tokens: int = 64, seed: int = 0, device: str = "cpu") -> dict[str, Any]:
    """Seconds for 10 s of MusicGen-small audio on this machine (see the module doc), on
    ``device`` (a GPU run compares GPU with GPU)."""
    model = musicgen_small(seed).to(device)
    params = sum(p.numel() for p in model.parameters())
    ids = torch.randint(0, 32128, (1, 16), device=device)
    mask = torch.ones_like(ids)
    kw = dict(input_ids=ids, attention_mask=mask, do_sample=True, guidance_scale=3.0,
              min_new_tokens=None)
    model.generate(**kw, max_new_tokens=4)  # warm-up: first-call allocations
    steps = min(tokens, STEPS_10S)
    t = time.perf_counter()
    codes = model.generate(**kw, max_new_tokens=steps + 1, return_dict_in_generate=True)
    gen_s = time.perf_counter() - t
    per_step = gen_s / (steps + 1)
    # Decode a full 10 s of codes (random ones: EnCodec costs the same for any codes).
    frames = torch.randint(0, 2048, (1, 1, 4, 500), device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    t = time.perf_counter()
    model.audio_encoder.decode(frames, [None])
    sync()
    decode_s = time.perf_counter() - t
    del codes
    return {"params_millions": round(params / 1e6, 1), "steps_timed": steps + 1,
            "seconds_per_step": round(per_step, 4), "decode_10s_s": round(decode_s, 3),
            "musicgen_small_s": round(per_step * STEPS_10S + decode_s, 2),
            "scaled": steps + 1 < STEPS_10S}
