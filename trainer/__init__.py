"""Training side of Art2Music: corpora and datasets, the paper's two stages, the notes
starter, your own music as notes (transcribe, fine-tune, verdict), evaluation.

Reads files, writes datasets and bundles; the runtime it feeds is ``a2m_core``.
"""
