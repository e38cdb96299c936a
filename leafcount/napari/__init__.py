"""leafcount as a napari plugin: its files, its network and its leaf table in the viewer.

The contributions are declared in ``napari.yaml`` (entry point group
``napari.manifest``); every module here builds on leafcount's headless core,
never on ``leafcount.gui``, so the app and the plugin read, segment and write
the same way. napari is an optional extra: ``pip install -e ".[napari]"``.
"""
