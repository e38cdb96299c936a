"""Architecture settings of a RIS network, stored with every checkpoint."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from leafcount.errors import ConfigError

ENCODERS = ("paper", "skip", "lite0")


@dataclass(frozen=True)
class ModelConfig:
    """Every number needed to rebuild a RIS network.

    ``ModelConfig.paper()`` is the plants setting of the paper (section 4.3):
    530x500 input, 30-channel FCN with a 9x9 then four 3x3 convolutions at a
    106x100 grid, two 30-channel ConvLSTMs with 3x3 gates. The default is
    leafcount's improved variant ("skip"): half-resolution input, dilated
    encoder, a high-resolution skip path that sharpens the masks, the
    canvas of already-found leaves fed back to the ConvLSTM, and dense
    auxiliary heads (plant foreground, leaf boundaries) that let the encoder
    learn from every pixel.

    ``dense_input_size`` adds :class:`~leafcount.model.dense.FullResolutionHeads`,
    run once per image at that size (about the image's own for CVPPP): their
    foreground and boundary maps replace the encoder's in the "grow" decoding.
    ``dense_centres`` gives those heads a third map, each leaf's centre (its
    inner distance to its own edge over the largest), whose peaks seed one
    leaf each in the "centres" decoding, small leaves as well as big ones.
    ``dense_context`` has those heads take their coarsest context (stride
    16 of their input) from the lite0 encoder's feature pyramid, which the
    recurrent part computes anyway, instead of from their own backbone's
    six stride-16 blocks; their input is then twice the encoder's, pixel
    for pixel.
    """

    encoder: str = "skip"
    input_size: tuple[int, int] = (250, 265)
    grid_stride: int = 5
    encoder_channels: int = 32
    encoder_dilations: tuple[int, ...] = (1, 2, 4, 1)
    first_kernel: int = 5
    skip_channels: int = 16
    output_stride: int = 2
    lstm_channels: int = 32
    lstm_layers: int = 2
    lstm_kernel: int = 3
    feed_canvas: bool = True
    coord_channels: bool = True
    standardize_input: bool = True
    dense_input_size: tuple[int, int] | None = None
    dense_centres: bool = False
    dense_context: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ConfigError(f"encoder must be one of {ENCODERS}, got {self.encoder!r}")
        if len(self.input_size) != 2 or min(self.input_size) < self.grid_stride:
            raise ConfigError(f"input_size must be (H, W) of at least grid_stride, got {self.input_size}")
        object.__setattr__(self, "input_size", tuple(int(v) for v in self.input_size))
        object.__setattr__(self, "encoder_dilations", tuple(int(v) for v in self.encoder_dilations))
        if self.dense_input_size is not None:
            if len(self.dense_input_size) != 2 or min(self.dense_input_size) < 32:
                raise ConfigError(f"dense_input_size must be (H, W) of at least 32, got {self.dense_input_size}")
            object.__setattr__(self, "dense_input_size", tuple(int(v) for v in self.dense_input_size))
        elif self.dense_centres or self.dense_context:
            raise ConfigError("dense_centres and dense_context need the full-resolution heads (dense_input_size)")
        if self.dense_context and (self.encoder != "lite0" or self.dense_input_size != tuple(2 * v for v in self.input_size)):
            raise ConfigError("dense_context needs the lite0 encoder and dense_input_size twice its input_size")
        for name in ("grid_stride", "encoder_channels", "lstm_channels", "lstm_layers", "output_stride"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lstm_kernel % 2 != 1 or self.first_kernel % 2 != 1:
            raise ConfigError("lstm_kernel and first_kernel must be odd")
        if self.encoder != "paper" and self.skip_channels < 1:
            raise ConfigError(f"the {self.encoder} encoder needs skip_channels >= 1")
        if self.encoder == "lite0" and (self.grid_stride, self.output_stride) != (8, 2):
            raise ConfigError("the lite0 encoder has its grid at stride 8 and its masks at stride 2")

    @property
    def grid_size(self) -> tuple[int, int]:
        """(h', w') of the recurrent state."""
        return (self.input_size[0] // self.grid_stride, self.input_size[1] // self.grid_stride)

    @property
    def output_size(self) -> tuple[int, int]:
        """Size of the masks the network emits (before resizing to the image)."""
        s = self.output_stride
        return (-(-self.input_size[0] // s), -(-self.input_size[1] // s))

    @classmethod
    def paper(cls) -> "ModelConfig":
        """The paper's plants configuration (section 4.3)."""
        return cls(
            encoder="paper", input_size=(500, 530), grid_stride=5, encoder_channels=30,
            encoder_dilations=(1, 1, 1, 1), first_kernel=9, skip_channels=0, output_stride=1,
            lstm_channels=30, feed_canvas=False, coord_channels=False, standardize_input=True,
        )

    @classmethod
    def lite0(cls) -> "ModelConfig":
        """leafcount v2: an ImageNet-pretrained EfficientNet-Lite0 with a feature
        pyramid (its stride-8 level feeds the ConvLSTMs, a stride-2 level the
        masks and the dense foreground/boundary heads) at 256x272."""
        return cls(
            encoder="lite0", input_size=(256, 272), grid_stride=8, encoder_channels=64,
            encoder_dilations=(), skip_channels=16, output_stride=2, lstm_channels=32,
            standardize_input=False,
        )

    @classmethod
    def tiny(cls) -> "ModelConfig":
        """A very small network for tests and demos: milliseconds per step."""
        return cls(
            input_size=(60, 64), grid_stride=4, encoder_channels=8, encoder_dilations=(1, 2),
            first_kernel=3, skip_channels=4, lstm_channels=8,
        )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["input_size"] = list(self.input_size)
        data["encoder_dilations"] = list(self.encoder_dilations)
        if self.dense_input_size is not None:
            data["dense_input_size"] = list(self.dense_input_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model setting(s): {', '.join(unknown)}")
        values = dict(data)
        for key in ("input_size", "encoder_dilations", "dense_input_size"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)
