"""leafcount: count and outline rosette leaves with Recurrent Instance Segmentation."""

__version__ = "0.1.0"
