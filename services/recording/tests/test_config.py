"""The recording service's settings."""

import pytest

from recording.config import RecordingConfig
from webinar_runtime.config import ConfigError, load_config


def test_the_recording_service_needs_only_mongo():
    config = load_config(RecordingConfig, {"MONGO_URL": "mongodb://127.0.0.1:1/"})
    assert (config.database, config.max_page_size) == ("recording", 100)


@pytest.mark.parametrize("value", ["0", "1001"])
def test_a_page_size_out_of_bounds_is_refused(value):
    with pytest.raises(ConfigError) as refused:
        load_config(RecordingConfig, {"MONGO_URL": "mongodb://127.0.0.1:1/", "RECORDING_MAX_PAGE_SIZE": value})
    assert refused.value.variable == "RECORDING_MAX_PAGE_SIZE"
