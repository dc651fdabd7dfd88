"""Stage-1 (projector, mel decoder) and stage-2 (HiFi-GAN) modules, with their configs."""
from .decoder import DecoderConfig, MelDecoder
from .hifigan import HiFiGANConfig, HiFiGANGenerator
from .projector import GatedResidualProjector, ProjectorConfig

__all__ = [
    "DecoderConfig",
    "GatedResidualProjector",
    "HiFiGANConfig",
    "HiFiGANGenerator",
    "MelDecoder",
    "ProjectorConfig",
]
