"""Training side of Art2Music: the ArtiCaps dataset builder, both training stages, evaluation.

Reads files, writes datasets and bundles; the runtime it feeds is ``a2m_core``.
"""
