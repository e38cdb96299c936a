import doctest
from dataclasses import dataclass

import pytest

from leafcount import settings
from leafcount.errors import ConfigError
from leafcount.settings import check_choice, check_integer, check_number, checkpoint_settings, settings_from_dict


@dataclass(frozen=True)
class Brush:
    radius: int = 3

    def __post_init__(self) -> None:
        check_integer("radius", self.radius, 1)


def test_doctests_pass():
    assert doctest.testmod(settings).failed == 0


@pytest.mark.parametrize("value", [0, True, 2.5, "3"])
def test_an_integer_setting_names_itself_and_the_value(value):
    with pytest.raises(ConfigError, match=rf"^radius must be an integer >= 1, got {value!r}$"):
        Brush(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "0.5", -1.0])
def test_a_number_setting_refuses_what_is_not_a_finite_number_in_range(value):
    with pytest.raises(ConfigError, match="^alpha must be in \\[0, 1\\], got"):
        check_number("alpha", value, "in [0, 1]", lambda v: 0 <= v <= 1)


def test_a_choice_lists_the_choices():
    with pytest.raises(ConfigError, match=r"^mode must be one of \('a', 'b'\), got 'c'$"):
        check_choice("mode", "c", ("a", "b"))


def test_settings_from_dict_takes_defaults_and_refuses_non_mappings():
    assert settings_from_dict(Brush, {}, "brush") == Brush()
    with pytest.raises(ConfigError, match="^brush settings must be a mapping, got list$"):
        settings_from_dict(Brush, [3], "brush")
    with pytest.raises(ConfigError, match="^radius must be an integer >= 1, got 0$"):
        settings_from_dict(Brush, {"radius": 0}, "brush")


def test_checkpoint_settings_are_a_mapping_or_nothing():
    assert checkpoint_settings({"model": "x"}, "crf") == {}
    assert checkpoint_settings({"crf": {"gt_prob": 0.8}}, "crf") == {"gt_prob": 0.8}
    with pytest.raises(ConfigError, match="^checkpoint meta 'crf' must be a mapping, got list$"):
        checkpoint_settings({"crf": [0.8]}, "crf")
