"""The RIS network (paper section 3), its loss (eq. 5) and checkpoint files."""
