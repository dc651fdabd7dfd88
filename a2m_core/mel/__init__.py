"""The mel voice: the paper's path from a fused vector to sound. A BiLSTM decoder (with its
performance latent and detail flow) draws a mel, and HiFi-GAN (or Griffin-Lim) vocodes it,
in one piece or streamed; ``acceleration`` runs the same weights faster. Training-side
modules (discriminators, losses) live here beside the models they train."""
from .decoder import DecoderConfig, MelDecoder
from .hifigan import HiFiGANConfig, HiFiGANGenerator

__all__ = ["DecoderConfig", "HiFiGANConfig", "HiFiGANGenerator", "MelDecoder"]
