"""The meetings service's settings: a wrong value stops it with the variable's name."""

import pytest

from meetings.config import MeetingsConfig
from webinar_runtime.config import ConfigError, load_config

BASE = {"MONGO_URL": "mongodb://127.0.0.1:1/", "REDIS_URL": "redis://127.0.0.1:1/0"}


def test_defaults_keep_room_files_in_a_local_directory_with_a_size_limit():
    config = load_config(MeetingsConfig, BASE)
    assert (config.blob_backend, config.database) == ("local", "meetings")
    assert config.max_file_bytes == 16 * 1024 * 1024


def test_chat_is_capped_kept_for_a_day_and_rate_limited_by_default():
    config = load_config(MeetingsConfig, BASE)
    assert (config.chat_history_max, config.chat_retention, config.chat_max_chars) == (200, 86400, 2000)
    assert (config.chat_rate_messages, config.chat_rate_window) == (10, 10)


def test_redis_is_required_now_that_meetings_keeps_the_chat():
    with pytest.raises(ConfigError) as refused:
        load_config(MeetingsConfig, {"MONGO_URL": "mongodb://127.0.0.1:1/"})
    assert refused.value.variable == "REDIS_URL"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MEETINGS_BLOB_BACKEND", "s3"), ("ROOM_FILE_MAX_BYTES", "0"), ("UPLOAD_STAGING_TTL_SECONDS", "5"),
     ("OBJECT_STORE_REPLICAS", "7"), ("ROOM_FILE_MAX_BYTES", "lots"), ("CHAT_HISTORY_MAX_MESSAGES", "0"),
     ("CHAT_RATE_MESSAGES", "0"), ("CHAT_RETENTION_SECONDS", "-1"), ("CHAT_MAX_MESSAGE_CHARS", "0")],
)  # fmt: skip
def test_a_bad_setting_is_refused_by_name(variable, value):
    with pytest.raises(ConfigError) as refused:
        load_config(MeetingsConfig, {**BASE, variable: value})
    assert refused.value.variable == variable
