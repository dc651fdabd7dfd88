"""Art2Music desktop app (PySide6) on the shared ``a2m_core`` engine."""
