"""Qt-free editing: reversible label edits and the document they change."""
