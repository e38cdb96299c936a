"""The desktop app (PySide6 + pyqtgraph): views, undo commands and workers over the core."""
