"""The transcription service's settings: defaults that run offline, refusals naming the variable."""

import pytest

from transcription.config import TranscriptionConfig
from webinar_runtime.config import ConfigError, load_config

BASE = {"MONGO_URL": "mongodb://127.0.0.1:1/"}


def test_with_only_mongo_set_the_service_runs_offline_without_speech_tokens():
    config = load_config(TranscriptionConfig, BASE)
    assert (config.openai_api_key, config.azure_speech_key, config.azure_speech_region) == ("", "", "")
    assert (config.database, config.summary_max_sentences, config.summary_max_chars) == ("transcription", 6, 1200)
    assert 0 < config.speech_token_reuse_seconds < 600


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AZURE_SPEECH_TOKEN_REUSE_SECONDS", "600"),
        ("OPENAI_CONTEXT_TOKENS", "2000"),
        ("OPENAI_SUMMARY_TOKENS", "10"),
        ("OPENAI_TIMEOUT_SECONDS", "0"),
        ("SUMMARY_MAX_CHARS", "50"),
        ("MEETING_CACHE_SECONDS", "-1"),
    ],
)
def test_a_bad_setting_is_refused_naming_its_variable(variable, value):
    with pytest.raises(ConfigError) as refused:
        load_config(TranscriptionConfig, {**BASE, variable: value})
    assert refused.value.variable == variable
