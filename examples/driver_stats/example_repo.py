# Feast's local quickstart definitions (driver statistics), ported to Headwater: only the
# imports differ, and the on-demand feature views are left out (Headwater has none yet).

from datetime import timedelta

from headwater import (
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    PushSource,
)
from headwater.types import Float32, Int64

# The entity: a driver, looked up by driver_id.
driver = Entity(name="driver", join_keys=["driver_id"])

# Hourly statistics per driver, in Parquet. Pushed rows are appended to the same directory,
# which is why the path is a directory (Feast's template points at one file).
driver_stats_source = FileSource(
    name="driver_hourly_stats_source",
    path="data/driver_stats",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

# Three features of a driver, served online and valid for a day.
driver_stats_fv = FeatureView(
    name="driver_hourly_stats",
    entities=[driver],
    ttl=timedelta(days=1),
    schema=[
        Field(name="conv_rate", dtype=Float32),
        Field(name="acc_rate", dtype=Float32),
        Field(name="avg_daily_trips", dtype=Int64, description="Average daily trips"),
    ],
    online=True,
    source=driver_stats_source,
    tags={"team": "driver_performance"},
)

# Model versions: v1 takes one feature, v2 the whole view.
driver_activity_v1 = FeatureService(
    name="driver_activity_v1",
    features=[driver_stats_fv[["conv_rate"]]],
)
driver_activity_v2 = FeatureService(name="driver_activity_v2", features=[driver_stats_fv])

# Fresh values arrive by push; their history lands in the batch source.
driver_stats_push_source = PushSource(
    name="driver_stats_push_source",
    batch_source=driver_stats_source,
)

# The same features fed by the push source.
driver_stats_fresh_fv = FeatureView(
    name="driver_hourly_stats_fresh",
    entities=[driver],
    ttl=timedelta(days=1),
    schema=[
        Field(name="conv_rate", dtype=Float32),
        Field(name="acc_rate", dtype=Float32),
        Field(name="avg_daily_trips", dtype=Int64),
    ],
    online=True,
    source=driver_stats_push_source,
    tags={"team": "driver_performance"},
)

driver_activity_v3 = FeatureService(
    name="driver_activity_v3",
    features=[driver_stats_fresh_fv],
)
