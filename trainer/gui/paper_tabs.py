"""The trainer window's tabs for the paper's mel model: the ArtEmis dataset, Stage 1 (with
the detail flow), Stage 2, and Export & evaluate. Layout only: each function builds one
tab, keeps its fields on the window (the jobs read them there) and wires its buttons to the
window's ``start_*`` methods."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ..jobs import stage1_presets
from .widgets import LossPlot, PathField, spin_box

# The tabs are given their window (a TrainerWindow: its settings, jobs and status line);
# they do not import it, so the window module stays the one that imports them.

def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


DETAIL_TIP = (
    "A flow that samples the note-scale detail (onsets, pitch lines) the decoder's "
    "L1 fit averages away, guided by the painting and comment, trained on the "
    "finished Stage 1 run. Export then uses its best.pt (in the run folder's "
    "detail/)"
)


def artemis_tab(w: QMainWindow) -> QWidget:
    """ArtEmis x MusicCaps -> the paper's ArtiCaps dataset."""
    s = w.settings
    tab = QWidget()
    form = QFormLayout(tab)
    w.artemis = PathField("artemis", s, folder=False, filter_="CSV (*.csv)")
    w.images = PathField("images", s, folder=True)
    w.musiccaps = PathField("musiccaps", s, folder=False, filter_="CSV (*.csv)")
    w.audio = PathField("audio", s, folder=True)
    w.dataset_out = PathField("dataset_out", s, folder=True)
    w.clip_bundle = PathField("clip_bundle", s, folder=False, filter_="Bundles (*.safetensors)")
    if not w.clip_bundle.text():
        # Training needs stored embeddings; the built-in model's encoders are the ones
        # that install offline, so they are the sensible default.
        from a2m_core.defaults import STARTER

        if STARTER.is_file():
            w.clip_bundle.set(STARTER)
    for field, tip in (
        (w.artemis, "ArtEmis-format CSV: art_style, painting, emotion, utterance"),
        (w.images, "Folder of paintings in WikiArt layout: <style>/<painting>.jpg"),
        (
            w.musiccaps,
            "MusicCaps-format CSV (ytid, start_s, end_s, caption, "
            "aspect_list); `a2m-train corpus` writes one for your music",
        ),
        (w.audio, "Folder of the clips the MusicCaps CSV names (<ytid>.wav/.ogg/.flac/.mp3)"),
        (w.dataset_out, "Where the dataset is written; a stopped build resumes"),
        (
            w.clip_bundle,
            "Embed paintings and texts with this bundle's encoders "
            "(training needs them). Default: the built-in model's",
        ),
    ):
        field.setToolTip(tip)
    for label, field in (
        ("ArtEmis CSV", w.artemis),
        ("Images (WikiArt layout)", w.images),
        ("MusicCaps CSV", w.musiccaps),
        ("Audio folder", w.audio),
        ("Dataset folder", w.dataset_out),
        ("Encoder from bundle", w.clip_bundle),
    ):
        form.addRow(label, field)
    guide = QLabel(
        "The paper's dataset, ArtiCaps: ArtEmis's paintings and viewers' comments, each "
        "paired with the MusicCaps music clip whose caption feels closest. You need the "
        "ArtEmis CSV and its WikiArt images, a MusicCaps-format CSV and its audio "
        "(`a2m-train corpus` makes one from music that installs from the registries). "
        '"Encoder from bundle": the image and text encoders that embed every painting '
        "and comment for training; the built-in model's work offline, the paper's "
        "(ViT-H-14) needs its 3.9 GB weights. For your own recordings, use the Your music "
        "tab instead."
    )
    guide.setWordWrap(True)
    form.insertRow(0, guide)
    w.build_btn = QPushButton("Build dataset")
    w.build_btn.clicked.connect(w.start_build)
    form.addRow(w.build_btn)
    return tab


def stage1_tab(w: QMainWindow) -> QWidget:
    """Stage 1 (projector + BiLSTM decoder) and the detail flow on its run."""
    s = w.settings
    tab = QWidget()
    lay = QVBoxLayout(tab)
    form = QFormLayout()
    w.s1_dataset = PathField("s1_dataset", s, folder=True)
    w.s1_out = PathField("s1_out", s, folder=True)
    w.s1_epochs = spin_box(10, 1, 10_000)
    w.s1_batch = spin_box(32, 1, 4096)
    w.s1_lr = QDoubleSpinBox()
    w.s1_lr.setDecimals(6)
    w.s1_lr.setRange(1e-6, 1.0)
    w.s1_lr.setValue(1e-4)
    w.s1_hidden = spin_box(512, 4, 4096)
    w.s1_dec_hidden = spin_box(512, 4, 4096)
    w.s1_layers = spin_box(4, 1, 8)
    w.s1_preset = QComboBox()
    w.s1_preset.addItems([p["label"] for p in stage1_presets().values()])
    w.s1_preset.setToolTip(
        "CPU quick: small sizes, minutes on a laptop, but a mel "
        "model this small learns a static drone (to learn your "
        "music on a CPU, use the Your music tab). Paper: the "
        "published sizes (LSTM 4x512, batch 32), for a GPU"
    )
    w.s1_preset.currentTextChanged.connect(w.apply_stage1_preset)
    w.s1_device = QComboBox()
    w.s1_device.addItems(["auto", "cpu"] + (["cuda"] if _cuda() else []))
    w.s1_device.setToolTip("Where training runs (auto: a GPU when there is one)")
    for widget, tip in (
        (w.s1_dataset, "A dataset built in the Dataset tab"),
        (w.s1_out, "Checkpoints and the JSON log go here; Start again resumes from its last.pt"),
        (w.s1_epochs, "Passes over the training pairs"),
        (w.s1_batch, "Pairs per step"),
        (w.s1_lr, "Adam learning rate"),
        (w.s1_hidden, "Fused vector size (projector output)"),
        (w.s1_dec_hidden, "LSTM units per direction"),
        (w.s1_layers, "Stacked BiLSTM layers"),
    ):
        widget.setToolTip(tip)
    form.addRow("Preset", w.s1_preset)
    form.addRow("Device", w.s1_device)
    for label, widget in (
        ("Dataset folder", w.s1_dataset),
        ("Run folder", w.s1_out),
        ("Epochs", w.s1_epochs),
        ("Batch size", w.s1_batch),
        ("Learning rate", w.s1_lr),
        ("Projector hidden", w.s1_hidden),
        ("LSTM hidden", w.s1_dec_hidden),
        ("LSTM layers", w.s1_layers),
    ):
        form.addRow(label, widget)
    lay.addLayout(form)
    w.s1_btn = QPushButton("Start stage 1")
    w.s1_btn.clicked.connect(w.start_stage1)
    lay.addWidget(w.s1_btn)
    w.s1_plot = LossPlot("Stage 1: frequency-weighted L1")
    lay.addWidget(w.s1_plot, 1)
    # Stage 1b: the detail flow on the finished run (decoders with a latent)
    row = QHBoxLayout()
    w.detail_steps = spin_box(6000, 1, 1_000_000)
    w.detail_steps.setToolTip(
        "Optimiser steps of the detail flow (the starter: 6,000, about 11 minutes on 2 CPU cores)"
    )
    w.detail_btn = QPushButton("Train the detail flow on this run")
    w.detail_btn.setToolTip(DETAIL_TIP)
    w.detail_btn.clicked.connect(w.start_detail)
    row.addWidget(QLabel("Detail flow steps"))
    row.addWidget(w.detail_steps)
    row.addWidget(w.detail_btn, 1)
    lay.addLayout(row)
    w.detail_plot = LossPlot("Detail flow: flow-matching loss")
    lay.addWidget(w.detail_plot, 1)
    return tab


def stage2_tab(w: QMainWindow) -> QWidget:
    """Stage 2: HiFi-GAN on real and stage-1 mels."""
    s = w.settings
    tab = QWidget()
    lay = QVBoxLayout(tab)
    form = QFormLayout()
    w.s2_dataset = PathField("s2_dataset", s, folder=True)
    w.s2_out = PathField("s2_out", s, folder=True)
    w.s2_stage1 = PathField("s2_stage1", s, folder=False, filter_="best.pt (*.pt)")
    w.s2_preset = QLineEdit(str(s.value("s2_preset", "v1")))
    w.s2_steps = spin_box(10_000, 1, 10_000_000)
    w.s2_batch = spin_box(16, 1, 1024)
    for label, widget in (
        ("Dataset folder", w.s2_dataset),
        ("Run folder", w.s2_out),
        ("Stage-1 best.pt (optional)", w.s2_stage1),
        ("HiFi-GAN (v1/v2/v3/config)", w.s2_preset),
        ("Steps", w.s2_steps),
        ("Batch size", w.s2_batch),
    ):
        form.addRow(label, widget)
    lay.addLayout(form)
    w.s2_btn = QPushButton("Start stage 2")
    w.s2_btn.clicked.connect(w.start_stage2)
    lay.addWidget(w.s2_btn)
    w.s2_plot = LossPlot("Stage 2: mel L1 (train) / validation mel L1")
    lay.addWidget(w.s2_plot, 1)
    return tab


def export_tab(w: QMainWindow) -> QWidget:
    """Export a bundle, evaluate it (Table IV, the LLM rating), open it."""
    s = w.settings
    tab = QWidget()
    lay = QVBoxLayout(tab)
    form = QFormLayout()
    w.ex_stage1 = PathField("ex_stage1", s, folder=False, filter_="best.pt (*.pt)")
    w.ex_generator = PathField("ex_generator", s, folder=False)
    w.ex_bundle = PathField(
        "ex_bundle", s, folder=False, save=True, filter_="Bundles (*.safetensors)"
    )
    w.ev_dataset = PathField("ev_dataset", s, folder=True)
    w.ex_hifigan = QCheckBox(
        "No stage-2 generator: use the official HiFi-GAN V1 universal (packaged)"
    )
    w.ex_hifigan.setToolTip("Off: the Griffin-Lim fallback (fast, phasey)")
    w.ex_hifigan.setChecked(True)
    w.ex_generator_label = QLabel()
    w.ex_hifigan.toggled.connect(w._name_generator_field)
    w._name_generator_field(w.ex_hifigan.isChecked())
    for label, widget in (
        ("Stage-1 best.pt", w.ex_stage1),
        (w.ex_generator_label, w.ex_generator),
        ("Bundle file", w.ex_bundle),
        ("Dataset to evaluate on", w.ev_dataset),
    ):
        form.addRow(label, widget)
    form.addRow("", w.ex_hifigan)
    # The paper's LLM feeling rating of the full-input clips, when a rater is configured.
    w.rate_endpoint = QLineEdit(str(s.value("rate_endpoint", "") or ""))
    w.rate_endpoint.setPlaceholderText("empty: no LLM rating; e.g. http://127.0.0.1:8000/v1")
    w.rate_endpoint.setToolTip(
        "An OpenAI-compatible chat-completions server (or "
        "Gemini's API): it rates how well each clip's feeling "
        "matches its painting and comment, 0-10"
    )
    w.rate_provider = QComboBox()
    w.rate_provider.addItems(["openai", "gemini"])
    w.rate_provider.setCurrentText(str(s.value("rate_provider", "openai")))
    w.rate_model = QLineEdit(str(s.value("rate_model", "") or ""))
    w.rate_model.setPlaceholderText("e.g. gpt-4o-audio-preview")
    w.rate_key_env = QLineEdit(str(s.value("rate_key_env", "") or ""))
    w.rate_key_env.setPlaceholderText("OPENAI_API_KEY / GEMINI_API_KEY")
    w.rate_key_env.setToolTip(
        "The environment variable holding the API key (the key "
        "itself is never typed here, saved or logged)"
    )
    for widget, key in (
        (w.rate_endpoint, "rate_endpoint"),
        (w.rate_model, "rate_model"),
        (w.rate_key_env, "rate_key_env"),
    ):
        widget.textChanged.connect(lambda t, k=key: s.setValue(k, t))
    w.rate_provider.currentTextChanged.connect(lambda t: s.setValue("rate_provider", t))
    rate_row = QHBoxLayout()
    for widget in (w.rate_provider, w.rate_endpoint, w.rate_model, w.rate_key_env):
        rate_row.addWidget(widget, 2 if widget is w.rate_endpoint else 1)
    form.addRow("LLM feeling rating", rate_row)
    lay.addLayout(form)
    row = QHBoxLayout()
    w.export_btn = QPushButton("Export bundle")
    w.export_btn.clicked.connect(w.start_export)
    w.eval_btn = QPushButton("Evaluate (Table IV)")
    w.eval_btn.clicked.connect(w.start_evaluate)
    row.addWidget(w.export_btn)
    row.addWidget(w.eval_btn)
    w.open_app_btn = QPushButton("Open in desktop app")
    w.open_app_btn.setToolTip(
        "Start the Art2Music desktop app with this bundle (a "
        "separate program: closing one leaves the other)"
    )
    w.open_app_btn.clicked.connect(w.open_in_desktop)
    row.addWidget(w.open_app_btn)
    lay.addLayout(row)
    w.report = QTextBrowser()
    lay.addWidget(w.report, 1)
    return tab
