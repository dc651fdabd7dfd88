"""The jobs of the paper's four tabs (``paper_tabs``: ArtEmis dataset, Stage 1 with the
detail flow, Stage 2, Export & evaluate): each ``start_*`` reads its tab's fields, builds
the job's config (``trainer.jobs`` where the command line shares it) and hands the job to
the window's runner with what to do when it finishes.

:class:`PaperJobs` is mixed into ``window.TrainerWindow``, whose fields, status line and
runner (``_start``) it uses."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any


class PaperJobs:
    """The paper tabs' jobs (see the module's docstring)."""

    def start_build(self) -> bool:
        from ..data.builder import BuildConfig, build_articaps

        f = {"ArtEmis CSV": self.artemis.text(), "Images": self.images.text(),
             "MusicCaps CSV": self.musiccaps.text(), "Audio folder": self.audio.text(),
             "Dataset folder": self.dataset_out.text()}
        if not self._need(**f):
            return False
        encoder, state = None, None
        if self.clip_bundle.text():
            from a2m_core.bundle import load_bundle

            try:
                bundle = load_bundle(self.clip_bundle.text())
            except Exception as err:  # noqa: BLE001
                self.status.setText(f"Encoder bundle: {err}")
                return False
            encoder = bundle.config.encoder
            state = bundle.part("encoder") if encoder.weights_in_bundle else None
        cfg = BuildConfig(artemis=Path(f["ArtEmis CSV"]), images=Path(f["Images"]),
                          musiccaps=Path(f["MusicCaps CSV"]), audio=Path(f["Audio folder"]),
                          out=Path(f["Dataset folder"]), encoder=encoder, encoder_state=state)

        def job(emit, stop: threading.Event):
            result = build_articaps(cfg, stop=stop, progress=lambda stage, d, t: emit(
                {"event": "progress", "stage": stage, "done": d, "total": t}))
            return result

        return self._start("build", job, self._built)

    def start_stage1(self) -> bool:
        from ..jobs import preset_by_label, stage1_config
        from ..train.stage1 import train_stage1

        if not self._need(**{"Dataset folder": self.s1_dataset.text(),
                             "Run folder": self.s1_out.text()}):
            return False
        cfg = stage1_config(preset_by_label(self.s1_preset.currentText()),
                            epochs=self.s1_epochs.value(), batch_size=self.s1_batch.value(),
                            lr=self.s1_lr.value(), hidden=self.s1_hidden.value(),
                            decoder_hidden=self.s1_dec_hidden.value(),
                            decoder_layers=self.s1_layers.value(), log_every=1,
                            device=self.s1_device.currentText())
        dataset, out = self.s1_dataset.text(), self.s1_out.text()
        self.s1_plot.reset()
        self._replay_curve(Path(out), self.s1_plot, "stage1")
        return self._start("stage1", lambda emit, stop: train_stage1(dataset, out, cfg, emit,
                                                                     stop), self._stage1_trained)

    def start_detail(self) -> bool:
        from ..starter import StarterConfig, detail_recipe
        from ..train.detail import train_detail

        if not self._need(**{"Dataset folder": self.s1_dataset.text(),
                             "Run folder": self.s1_out.text()}):
            return False
        cfg = detail_recipe(StarterConfig(), steps=self.detail_steps.value(), log_every=5,
                            device=self.s1_device.currentText())
        dataset, run = self.s1_dataset.text(), Path(self.s1_out.text())
        self.detail_plot.reset()
        self._replay_curve(run / "detail", self.detail_plot, "detail")
        return self._start("detail", lambda emit, stop: train_detail(
            dataset, run, run / "detail", cfg, emit, stop), self._detail_trained)

    def start_stage2(self) -> bool:
        from ..train.stage2 import Stage2Config, train_stage2

        if not self._need(**{"Dataset folder": self.s2_dataset.text(),
                             "Run folder": self.s2_out.text()}):
            return False
        self.settings.setValue("s2_preset", self.s2_preset.text())
        cfg = Stage2Config(hifigan=self.s2_preset.text() or "v1",
                           stage1=self.s2_stage1.text() or None,
                           max_steps=self.s2_steps.value(), batch_size=self.s2_batch.value(),
                           log_every=1)
        dataset, out = self.s2_dataset.text(), self.s2_out.text()
        self.s2_plot.reset()
        self._replay_curve(Path(out), self.s2_plot, "stage2")
        return self._start("stage2", lambda emit, stop: train_stage2(dataset, out, cfg, emit,
                                                                     stop), self._stage2_trained)

    def start_export(self) -> bool:
        from ..jobs import export

        if not self._need(**{"Stage-1 best.pt": self.ex_stage1.text(),
                             "Bundle file": self.ex_bundle.text()}):
            return False
        stage1, gen, out = self.ex_stage1.text(), self.ex_generator.text() or None, \
            self.ex_bundle.text()
        packaged = self.ex_hifigan.isChecked()
        return self._start("export", lambda emit, stop: export(
            stage1, out, gen, packaged_hifigan=packaged, name=Path(out).stem))

    def start_evaluate(self) -> bool:
        from ..evaluate.table4 import evaluate_table4

        if not self._need(**{"Bundle file": self.ex_bundle.text(),
                             "Dataset": self.ev_dataset.text()}):
            return False
        bundle, dataset = self.ex_bundle.text(), self.ev_dataset.text()
        out = Path(bundle).with_name(Path(bundle).stem + "-eval")
        self.report.setSearchPaths([str(out)])  # the report's pictures live beside it
        rater = None
        if self.rate_endpoint.text().strip():
            from ..evaluate.rating import Rater, RaterConfig, RatingError

            if not self.rate_model.text().strip():
                self.status.setText("LLM rating: give the model name (or clear the endpoint)")
                return False
            try:
                rater = Rater(RaterConfig(provider=self.rate_provider.currentText(),
                                          model=self.rate_model.text().strip(),
                                          endpoint=self.rate_endpoint.text().strip(),
                                          api_key_env=self.rate_key_env.text().strip() or None))
            except RatingError as err:
                self.status.setText(f"LLM rating: {err}")
                return False

        def job(emit, stop):
            def progress(st, d, t):
                emit({"event": "progress", "stage": st, "done": d, "total": t})

            result = evaluate_table4(bundle, dataset, out=out, progress=progress)
            if rater is not None and not stop.is_set():
                from ..evaluate.rating import rate_batch, read_items

                items = rate_batch(rater, read_items(out), progress=progress)
                result["ratings"] = [i.row() for i in items]
            return result

        return self._start("evaluate", job, self._evaluated)

    def show_dataset_report(self, result: Any) -> None:
        """After a build: what was skipped and why, and the feeling-consistency report."""
        lines = [f"## Dataset: {result.pairs} pairs, {result.clips} clips, "
                 f"{result.paintings} paintings", ""]
        if result.skipped:
            lines += ["Skipped rows (reasons; every row is listed in skipped.csv):", ""]
            lines += [f"- {reason}: {count}" for reason, count in sorted(
                result.skipped.items(), key=lambda kv: -kv[1])]
            lines.append("")
        report = Path(result.out) / "report" / "report.md"
        if report.is_file():
            lines.append(report.read_text(encoding="utf-8"))
        self.report.setMarkdown("\n".join(lines))
        self.tabs.setCurrentIndex(self.tabs.count() - 1)

    # ------------------------------------------------------------------ when a job ends
    def _built(self, result: Any) -> None:
        self.status.setText(f"build: {result.pairs} pairs, {result.clips} clips, splits "
                            f"{result.split_sizes}")
        self.show_dataset_report(result)
        for field in (self.s1_dataset, self.s2_dataset, self.ev_dataset):
            if not field.text():
                field.set(result.out)

    def _stage1_trained(self, result: Any) -> None:
        self.status.setText(f"stage1: done ({result})")
        self.ex_stage1.set(result)
        if not self.s2_stage1.text():
            self.s2_stage1.set(result)

    def _detail_trained(self, result: Any) -> None:
        self.status.setText(f"detail: done ({result})")
        self.ex_stage1.set(result)  # the stage-1 weights with the flow

    def _stage2_trained(self, result: Any) -> None:
        self.status.setText(f"stage2: done ({result})")
        self.ex_generator.set(result)

    def _evaluated(self, result: Any) -> None:
        from ..evaluate.rating import ratings_markdown
        from ..evaluate.table4 import render_markdown

        self.report.setMarkdown(render_markdown(result)
                                + ratings_markdown(result.get("ratings", [])))
        self.status.setText("evaluate: done")
