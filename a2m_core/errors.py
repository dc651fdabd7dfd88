"""The small error hierarchy every front end turns into a one-line message.

The desktop app, the OSC bridge and the CLI catch :class:`A2MError` and show ``str(err)``;
anything else escaping the engine is a bug.
"""
from __future__ import annotations


class A2MError(Exception):
    """Base class: the message alone must tell the user what to check."""


class BadInputError(A2MError, ValueError):
    """An input the user supplied is unusable: missing file, corrupt image or audio, empty text."""


class ModelLoadError(A2MError):
    """Weights or a bundle could not be found, read, or do not match their config."""


class BundleError(ModelLoadError):
    """A model bundle is corrupt, of an unknown version, or its tensors don't match its config."""


class GenerationCancelled(A2MError):
    """Generation was cancelled at a stage boundary by the caller."""
