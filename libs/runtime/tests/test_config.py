from dataclasses import dataclass

import pytest

from webinar_runtime.config import ConfigError, MongoSettings, RuntimeConfig, load_config, setting, variables


@dataclass(frozen=True, kw_only=True)
class ExampleConfig(RuntimeConfig, MongoSettings):
    workers: int = setting("EXAMPLE_WORKERS", 2)
    verbose: bool = setting("EXAMPLE_VERBOSE", False)
    origins: tuple[str, ...] = setting("EXAMPLE_ORIGINS", ())


def test_defaults_apply_and_required_values_are_read():
    config = load_config(ExampleConfig, {"MONGO_URL": "mongodb://db/"})
    assert config.mongo_url == "mongodb://db/"
    assert (config.workers, config.verbose, config.origins) == (2, False, ())
    assert config.instance_id  # host-pid when not given


def test_missing_required_variable_is_named():
    with pytest.raises(ConfigError) as caught:
        load_config(ExampleConfig, {})
    assert caught.value.variable == "MONGO_URL"
    assert "required" in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("EXAMPLE_WORKERS", "two", "expected an integer, got 'two'"),
        ("EXAMPLE_VERBOSE", "maybe", "expected true or false, got 'maybe'"),
        ("BUS_REQUEST_TIMEOUT", "soon", "expected a number, got 'soon'"),
        ("BUS_REQUEST_TIMEOUT", "0", "must be greater than 0"),
        ("LOG_FORMAT", "xml", "expected json or text, got 'xml'"),
        ("HEALTH_PORT", "70000", "must be a port number"),
    ],
)
def test_malformed_value_names_the_variable_and_the_problem(variable, value, expected):
    with pytest.raises(ConfigError) as caught:
        load_config(ExampleConfig, {"MONGO_URL": "mongodb://db/", variable: value})
    assert caught.value.variable == variable
    assert expected in str(caught.value)


def test_typed_values_are_parsed():
    config = load_config(
        ExampleConfig,
        {"MONGO_URL": "m", "EXAMPLE_WORKERS": "8", "EXAMPLE_VERBOSE": "yes", "EXAMPLE_ORIGINS": "a.test, b.test"},
    )
    assert (config.workers, config.verbose, config.origins) == (8, True, ("a.test", "b.test"))


def test_variables_lists_every_setting_with_required_flag():
    listed = {variable.name: variable for variable in variables(ExampleConfig)}
    assert listed["MONGO_URL"].required is True
    assert listed["EXAMPLE_WORKERS"].required is False
    assert listed["EXAMPLE_WORKERS"].default == 2
    assert {"NATS_URL", "HEALTH_PORT", "SHUTDOWN_GRACE_SECONDS"} <= listed.keys()
