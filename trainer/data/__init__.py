"""ArtiCaps (SPEC §3): ArtEmis comments x MusicCaps clips -> a training-ready dataset."""
from .builder import BuildConfig, BuildResult, build_articaps
from .dataset import ArtiCaps

__all__ = ["ArtiCaps", "BuildConfig", "BuildResult", "build_articaps"]
