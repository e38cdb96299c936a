"""Files a user owns: label PNGs with their sidecar, overlay previews."""
