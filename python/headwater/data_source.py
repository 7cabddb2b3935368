"""Feast's module path feast.data_source, for imports written against Feast."""

from .definitions import (DataSource, FileSource, KafkaSource, PushMode, PushSource,  # noqa: F401
                          RequestSource)
