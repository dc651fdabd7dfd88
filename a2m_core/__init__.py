"""Art2Music runtime: the mel convention, encoders, models, bundles and the engine.

One obvious way in::

    from a2m_core import Art2Music
    clip = Art2Music.load().generate("painting.jpg", "the sky feels alive", seed=1)
    clip.save("out.wav")

This package never imports Qt, sounddevice or python-osc: the apps build on it.
"""
from .audio import MelConfig
from .bundle import BundleConfig, load_bundle, save_bundle
from .engine import Art2Music, Clip, GenerationRequest
from .errors import A2MError, BadInputError, BundleError, GenerationCancelled, ModelLoadError
from .prompt import MusicHints, build_prompt

__version__ = "0.1.0"

__all__ = [
    "A2MError",
    "Art2Music",
    "BadInputError",
    "BundleConfig",
    "BundleError",
    "Clip",
    "GenerationCancelled",
    "GenerationRequest",
    "MelConfig",
    "ModelLoadError",
    "MusicHints",
    "build_prompt",
    "load_bundle",
    "save_bundle",
]
