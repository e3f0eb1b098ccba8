"""The meetings service's settings: a wrong value stops it with the variable's name."""

import pytest

from meetings.config import MeetingsConfig
from webinar_runtime.config import ConfigError, load_config

BASE = {"MONGO_URL": "mongodb://127.0.0.1:1/"}


def test_defaults_keep_room_files_in_a_local_directory_with_a_size_limit():
    config = load_config(MeetingsConfig, BASE)
    assert (config.blob_backend, config.database) == ("local", "meetings")
    assert config.max_file_bytes == 16 * 1024 * 1024


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MEETINGS_BLOB_BACKEND", "s3"), ("ROOM_FILE_MAX_BYTES", "0"), ("UPLOAD_STAGING_TTL_SECONDS", "5"),
     ("OBJECT_STORE_REPLICAS", "7"), ("ROOM_FILE_MAX_BYTES", "lots")],
)  # fmt: skip
def test_a_bad_setting_is_refused_by_name(variable, value):
    with pytest.raises(ConfigError) as refused:
        load_config(MeetingsConfig, {**BASE, variable: value})
    assert refused.value.variable == variable
