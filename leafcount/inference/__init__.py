"""Running RIS on photos: steps, mirrored passes, decoding, CRF, trays, batches, the one pipeline."""
