"""The plugin's manifest: valid for npe2, every command importable, every demo photo a sample."""

from __future__ import annotations

from typer.testing import CliRunner

from leafcount.napari.samples import demo_notices


def test_npe2_validate_with_imports(plugins):
    from npe2.cli import app

    result = CliRunner().invoke(app, ["validate", "leafcount", "--imports"])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_contributes_a_reader_a_labels_writer_and_the_widget(plugins):
    contributions = plugins.get_manifest("leafcount").contributions
    assert [reader.command for reader in contributions.readers] == ["leafcount.get_reader"]
    assert [writer.layer_types for writer in contributions.writers] == [["labels"]]
    assert [widget.display_name for widget in contributions.widgets] == ["Segment leaves (RIS)"]


def test_every_demo_photo_is_a_sample_with_its_license(plugins):
    samples = plugins.get_manifest("leafcount").contributions.sample_data
    opened = {}
    for sample in samples:
        [(data, kwargs, layer_type)] = plugins.get_command(sample.command).exec()
        assert layer_type == "image" and data.ndim == 3 and kwargs["rgb"]
        opened[kwargs["metadata"]["path"].rsplit("/", 1)[-1]] = kwargs["metadata"]
    notices = demo_notices()
    assert sorted(opened) == sorted(notices) and len(notices) == 5
    for name, metadata in opened.items():
        assert metadata["license"] == notices[name]["license"] and metadata["attribution"]
