"""musicnn (Pons & Serra 2019) audio embeddings and mood tags for FAD, cosine and feeling.

``musicnn`` 0.1.0 (ISC) ships TensorFlow checkpoints of music taggers trained on the Million
Song Dataset (``MSD_musicnn``: 50 tags including happy, sad, Mellow, chill, party) and on
MagnaTagATune (``MTT_musicnn``: slow, fast, loud, quiet, soft, ambient, ...). Its
penultimate layer (200 numbers per 3-s patch) is the embedding FAD and cosine are computed
on; the tag probabilities feed the feeling-agreement figure (``feeling.py``). The figures are
labelled "FAD-musicnn" / "cosine-musicnn": not comparable with the paper's VGGish numbers.

It installs with the ``[eval]`` extra (``pip install --no-deps musicnn==0.1.0`` plus
``tensorflow-cpu`` and ``tf-keras``: musicnn's own metadata pins a numpy from 2019), so the
app itself never carries TensorFlow. Differences from musicnn's own extractor, on purpose:
the input mel stays float32 (its float16 cast overflows to inf on loud input), the graph is
built once per embedding object (not once per file), and waves come in as arrays.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from a2m_core.errors import ModelLoadError

MODELS = ("MSD_musicnn", "MTT_musicnn")
INSTALL = ("pip install --no-deps musicnn==0.1.0 && pip install tensorflow-cpu tf-keras "
           "(or: pip install -e '.[eval]' then the musicnn line)")


class MusicnnEmbedding:
    """Waves -> per-3-s-patch penultimate features ``[n_i, 200]`` (the AudioEmbedding
    protocol), plus :meth:`tags`: mean tag probabilities per clip."""

    comparable_to_paper = False

    def __init__(self, model: str = "MSD_musicnn") -> None:
        if model not in MODELS:
            raise ModelLoadError(f"unknown musicnn model '{model}': use {' or '.join(MODELS)}")
        # musicnn's layers are tf.compat.v1 ones, which TensorFlow 2.16+ keeps only through
        # the legacy Keras package; quiet TF's start-up chatter.
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            import tensorflow as tf
            from musicnn import configuration, models
        except ImportError as err:
            raise ModelLoadError(f"the musicnn embedding needs TensorFlow and musicnn "
                                 f"({err.name} is missing): {INSTALL}") from err
        self.model = model
        self.name = f"musicnn {model} penultimate (FAD-musicnn; not comparable to the " \
                    f"paper's VGGish FAD)"
        self.label = "musicnn"
        self.sr, self.hop, self.n_fft = configuration.SR, configuration.FFT_HOP, \
            configuration.FFT_SIZE
        self.n_mels = configuration.N_MELS
        self.tag_names = list(configuration.MSD_LABELS if model.startswith("MSD")
                              else configuration.MTT_LABELS)
        import librosa

        # 3-s patches, what the taggers were trained on
        self.n_frames = int(librosa.time_to_frames(3, sr=self.sr, n_fft=self.n_fft,
                                                   hop_length=self.hop)) + 1
        self._graph = tf.Graph()
        with self._graph.as_default():
            self._x = tf.compat.v1.placeholder(tf.float32, [None, self.n_frames, self.n_mels])
            self._training = tf.compat.v1.placeholder(tf.bool)
            with tf.name_scope("model"):
                out = models.define_model(self._x, self._training, model,
                                          len(self.tag_names))
            self._tags, self._penultimate = tf.nn.sigmoid(out[0]), out[-1]
            self._sess = tf.compat.v1.Session(graph=self._graph)
            saver = tf.compat.v1.train.Saver()
            folder = Path(models.__file__).parent / model
            try:
                saver.restore(self._sess, str(folder) + "/")
            except Exception as err:  # noqa: BLE001 - TF raises many kinds on a bad checkpoint
                raise ModelLoadError(f"musicnn checkpoint {folder} can't be restored: "
                                     f"{str(err).splitlines()[0]}") from err

    def _patches(self, wave: np.ndarray, sample_rate: int) -> np.ndarray:
        import librosa

        y = np.asarray(wave, np.float32)
        if sample_rate != self.sr:
            y = librosa.resample(y, orig_sr=sample_rate, target_sr=self.sr)
        mel = librosa.feature.melspectrogram(y=y, sr=self.sr, hop_length=self.hop,
                                             n_fft=self.n_fft, n_mels=self.n_mels).T
        rep = np.log10(10000.0 * mel.astype(np.float32) + 1.0)  # float32: no overflow
        if len(rep) < self.n_frames:  # a clip shorter than 3 s: one zero-padded patch
            rep = np.pad(rep, ((0, self.n_frames - len(rep)), (0, 0)))
        starts = range(0, len(rep) - self.n_frames + 1, self.n_frames)
        return np.stack([rep[s:s + self.n_frames] for s in starts])  # [n, frames, mels]

    def features(self, waves: list[np.ndarray], sample_rate: int
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per clip: (penultimate ``[n, 200]``, tag probabilities ``[n, n_tags]``)."""
        out = []
        for w in waves:
            tags, emb = self._sess.run([self._tags, self._penultimate], feed_dict={
                self._x: self._patches(w, sample_rate), self._training: False})
            out.append((np.asarray(emb, np.float64), np.asarray(tags, np.float64)))
        return out

    def __call__(self, waves: list[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        return [emb for emb, _ in self.features(waves, sample_rate)]

    def tags(self, waves: list[np.ndarray], sample_rate: int) -> list[dict[str, float]]:
        """Mean tag probabilities of each clip, by tag name."""
        return [dict(zip(self.tag_names, t.mean(0).tolist()))
                for _, t in self.features(waves, sample_rate)]
