"""FeatureStore against a real repository: training data, online reads, pushes, writes and
materialization, with pandas and Arrow inputs, and the errors bad input gets."""
import os
import re
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import headwater
from headwater import FeatureStore, PushMode

from sdk_helpers import HEADWATER, run

FEATURES = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate",
            "driver_hourly_stats:avg_daily_trips"]


@pytest.fixture
def store(driver_repo):
    run([HEADWATER, "apply"], cwd=driver_repo)
    with FeatureStore(repo_path=driver_repo) as feature_store:
        yield feature_store


def source_rows(repo):
    return pq.read_table(repo / "data" / "driver_stats").to_pandas()


def test_historical_features_match_the_cli_and_keep_labels(store, driver_repo):
    data = source_rows(driver_repo)
    times = data["event_timestamp"].sort_values().iloc[[10, 500, 1500]].tolist()
    entity_df = pd.DataFrame({"driver_id": [1001, 1003, 1005, 1001],
                              "event_timestamp": [t.tz_localize(None) for t in times] + [times[0]],
                              "label": [1, 0, 1, 1]})
    job = store.get_historical_features(entity_df=entity_df, features=FEATURES)
    df = job.to_df()
    assert list(df.columns) == ["driver_id", "event_timestamp", "label", "conv_rate", "acc_rate",
                                "avg_daily_trips"]
    assert df["label"].tolist() == [1, 0, 1, 1]
    # The same through the CLI from a Parquet file.
    entity_df.to_parquet(driver_repo / "entities.parquet")
    run([HEADWATER, "get-historical-features", "--entities", "entities.parquet", "--features",
         ",".join(FEATURES), "--output", "out.parquet"], cwd=driver_repo)
    expected = pq.read_table(driver_repo / "out.parquet")
    assert job.to_arrow().equals(expected)
    # Point in time: each row's value is the latest at or before its time for its driver.
    for row in df.itertuples():
        rows = data[(data.driver_id == row.driver_id) & (data.event_timestamp <= row.event_timestamp)]
        latest = rows.sort_values("event_timestamp").iloc[-1]
        assert row.avg_daily_trips == latest.avg_daily_trips
    # A pyarrow table and any __arrow_c_stream__ object give the same result.
    table = pa.Table.from_pandas(entity_df, preserve_index=False)

    class Stream:
        def __arrow_c_stream__(self, requested_schema=None):
            return table.__arrow_c_stream__(requested_schema)

    assert store.get_historical_features(table, FEATURES).to_arrow().equals(expected)
    assert store.get_historical_features(Stream(), FEATURES).to_arrow().equals(expected)
    service = store.get_historical_features(entity_df.assign(val_to_add=1, val_to_add_2=2),
                                            store.get_feature_service("driver_activity_v1"))
    served = service.to_df()
    assert list(served.columns)[-3:] == ["conv_rate", "conv_rate_plus_val1", "conv_rate_plus_val2"]
    assert (served["conv_rate_plus_val2"] - served["conv_rate"]).dropna().round(6).eq(2).all()
    full = store.get_historical_features(entity_df, FEATURES, full_feature_names=True).to_df()
    assert "driver_hourly_stats__conv_rate" in full.columns


def test_training_data_turns_huge_pages_off_only_while_it_runs(store, monkeypatch):
    import ctypes
    libc = ctypes.CDLL(None)
    pr_set_thp_disable, pr_get_thp_disable = 41, 42
    native = headwater.feature_store._headwater
    original = native.set_transparent_huge_pages_disabled
    seen = []  # (the setting asked for, the process's setting when asked)

    def spy(disabled):
        seen.append((disabled, libc.prctl(pr_get_thp_disable, 0, 0, 0, 0)))
        return original(disabled)

    monkeypatch.setattr(native, "set_transparent_huge_pages_disabled", spy)
    entity_df = pd.DataFrame({"driver_id": [1001, 1003],
                              "event_timestamp": [datetime.now(timezone.utc)] * 2})
    try:
        for host_setting in (0, 1):  # the process's own choice comes back, whichever it was
            assert libc.prctl(pr_set_thp_disable, host_setting, 0, 0, 0) == 0
            seen.clear()
            assert len(store.get_historical_features(entity_df, FEATURES).to_df()) == 2
            assert seen == [(True, host_setting), (bool(host_setting), 1)]
            assert libc.prctl(pr_get_thp_disable, 0, 0, 0, 0) == host_setting
    finally:
        libc.prctl(pr_set_thp_disable, 0, 0, 0, 0)


def test_online_reads_after_materialize_push_and_write(store, driver_repo):
    now = datetime.now(timezone.utc)
    store.materialize(now - timedelta(days=30), now)
    data = source_rows(driver_repo)
    latest = data.sort_values("event_timestamp").groupby("driver_id").last()
    response = store.get_online_features(FEATURES, [{"driver_id": 1001}, {"driver_id": 4242}])
    values = response.to_dict()
    assert values["driver_id"] == [1001, 4242]
    assert values["avg_daily_trips"] == [latest.loc[1001, "avg_daily_trips"], None]
    assert values["conv_rate"][0] == pytest.approx(latest.loc[1001, "conv_rate"])
    df = response.to_df()
    assert list(df.columns) == ["driver_id", "conv_rate", "acc_rate", "avg_daily_trips"]
    # Dict of lists, DataFrame and Arrow entity rows read the same.
    for rows in ({"driver_id": [1001, 4242]}, pd.DataFrame({"driver_id": [1001, 4242]}),
                 pa.table({"driver_id": pa.array([1001, 4242], pa.int32())})):
        assert store.get_online_features(FEATURES, rows).to_dict() == values

    # Push to the push source: online only, then online and offline.
    pushed = pd.DataFrame({"driver_id": [1002], "event_timestamp": [datetime.now()],
                           "created": [datetime.now()], "conv_rate": [0.5], "acc_rate": [0.25],
                           "avg_daily_trips": [77]})
    before = len(os.listdir(driver_repo / "data" / "driver_stats"))
    store.push("driver_stats_push_source", pushed)
    fresh = ["driver_hourly_stats_fresh:avg_daily_trips"]
    assert store.get_online_features(fresh, [{"driver_id": 1002}]).to_dict()["avg_daily_trips"] == [77]
    assert len(os.listdir(driver_repo / "data" / "driver_stats")) == before
    pushed["avg_daily_trips"] = [78]
    pushed["event_timestamp"] = [datetime.now()]
    store.push("driver_stats_push_source", pushed, to=PushMode.ONLINE_AND_OFFLINE)
    assert store.get_online_features(fresh, [{"driver_id": 1002}]).to_dict()["avg_daily_trips"] == [78]
    assert len(os.listdir(driver_repo / "data" / "driver_stats")) == before + 1
    assert 78 in source_rows(driver_repo)["avg_daily_trips"].tolist()

    # write_to_online_store: newer rows replace, older ones are skipped.
    write = pd.DataFrame({"driver_id": [1003, 1004], "event_timestamp": [datetime.now()] * 2,
                          "conv_rate": [0.1, 0.2], "acc_rate": [0.3, 0.4],
                          "avg_daily_trips": [5, 6]})
    store.write_to_online_store("driver_hourly_stats", write)
    old = write.assign(event_timestamp=[datetime(2020, 1, 1)] * 2, avg_daily_trips=[0, 0])
    store.write_to_online_store("driver_hourly_stats", old)
    got = store.get_online_features(["driver_hourly_stats:avg_daily_trips"],
                                    [{"driver_id": 1003}, {"driver_id": 1004}]).to_dict()
    assert got["avg_daily_trips"] == [5, 6]


def test_materialize_incremental_and_feature_service_reads(store, capsys):
    store.materialize_incremental(datetime.now(timezone.utc))
    service = store.get_feature_service("driver_activity_v2")
    got = store.get_online_features(service, [{"driver_id": 1005, "val_to_add": 1, "val_to_add_2": 2}],
                                    full_feature_names=True).to_dict()
    assert set(got) == {"driver_id", "driver_hourly_stats__conv_rate",
                        "driver_hourly_stats__acc_rate", "driver_hourly_stats__avg_daily_trips",
                        "transformed_conv_rate__conv_rate_plus_val1",
                        "transformed_conv_rate__conv_rate_plus_val2"}
    assert got["driver_hourly_stats__avg_daily_trips"][0] is not None
    capsys.readouterr()
    store.materialize_incremental(datetime.now(timezone.utc) + timedelta(days=1))  # clamped
    assert "is in the future: materialized up to now" in capsys.readouterr().out


def test_bad_input_gets_a_clear_error_and_writes_nothing(store, driver_repo):
    store.materialize_incremental(datetime.now(timezone.utc))
    before = store.get_online_features(["driver_hourly_stats_fresh:avg_daily_trips"],
                                       [{"driver_id": 1001}]).to_dict()
    files = sorted(os.listdir(driver_repo / "data" / "driver_stats"))
    good = dict(driver_id=[1001, 1002], event_timestamp=[datetime.now()] * 2,
                created=[datetime.now()] * 2, conv_rate=[0.5, 0.5], acc_rate=[0.5, 0.5],
                avg_daily_trips=[1, 2])
    cases = [
        (headwater.InvalidInputError, "df.avg_daily_trips", dict(good, avg_daily_trips=["many", "few"])),
        (headwater.InvalidInputError, "df lacks column 'conv_rate'", {k: v for k, v in good.items() if k != "conv_rate"}),
        (headwater.InvalidInputError, r"df.driver_id\[1\] is null", dict(good, driver_id=[1001, None])),
        (headwater.InvalidInputError, r"df.event_timestamp\[1\]: .* is later than now \+ 1d",
         dict(good, event_timestamp=[datetime.now(), datetime(2200, 1, 1)])),
        (headwater.InvalidInputError, r"df.created\[0\]: .* is before 1900",
         dict(good, created=[datetime(1800, 1, 1), datetime.now()])),
        (headwater.InvalidInputError, r"df.conv_rate\[1\]: 1e\+300 is out of range for Float32",
         dict(good, conv_rate=[0.5, 1e300])),
        (headwater.InvalidInputError, "df.event_timestamp", dict(good, event_timestamp=["yesterday", "now"])),
    ]
    for error, message, columns in cases:
        with pytest.raises(error, match=message):
            store.push("driver_stats_push_source", pd.DataFrame(columns), to=PushMode.ONLINE_AND_OFFLINE)
    with pytest.raises(headwater.NotFoundError, match="unknown push source 'nope'"):
        store.push("nope", pd.DataFrame(good))
    with pytest.raises(headwater.InvalidInputError, match="to must be a PushMode"):
        store.push("driver_stats_push_source", pd.DataFrame(good), to="online")
    with pytest.raises(headwater.InvalidInputError, match="df must be a pandas DataFrame"):
        store.write_to_online_store("driver_hourly_stats", [1, 2, 3])
    with pytest.raises(headwater.NotFoundError, match="unknown feature view 'nope'"):
        store.write_to_online_store("nope", pd.DataFrame(good))
    with pytest.raises(headwater.InvalidInputError, match="later than now"):
        store.write_to_online_store("driver_hourly_stats",
                                    pd.DataFrame(dict(good, event_timestamp=[datetime(2200, 1, 1)] * 2)))
    # Nothing above wrote anything.
    assert sorted(os.listdir(driver_repo / "data" / "driver_stats")) == files
    assert store.get_online_features(["driver_hourly_stats_fresh:avg_daily_trips"],
                                     [{"driver_id": 1001}]).to_dict() == before

    with pytest.raises(headwater.NotFoundError, match="has no feature 'nope'"):
        store.get_online_features(["driver_hourly_stats:nope"], [{"driver_id": 1}])
    with pytest.raises(headwater.InvalidInputError, match="lack join key 'driver_id'"):
        store.get_online_features(FEATURES, [{"driver": 1}])
    with pytest.raises(headwater.InvalidInputError, match="entities.driver_id has type string"):
        store.get_online_features(FEATURES, [{"driver_id": "1001"}])
    with pytest.raises(headwater.InvalidInputError, match="non-empty list of dicts"):
        store.get_online_features(FEATURES, [])
    with pytest.raises(headwater.InvalidInputError, match="features must be a list"):
        store.get_online_features("driver_hourly_stats:conv_rate", [{"driver_id": 1}])
    with pytest.raises(headwater.InvalidInputError, match="features must be a list"):
        store.get_online_features(["driver_hourly_stats:conv_rate", 7], [{"driver_id": 1}])
    with pytest.raises(headwater.InvalidInputError, match="an entity query is Flink SQL, run on "
                       "batch_engine's cluster, and feature_store.yaml names none"):
        store.get_historical_features("SELECT 1", FEATURES)
    with pytest.raises(headwater.InvalidInputError, match="event_timestamp"):
        store.get_historical_features(pd.DataFrame({"driver_id": [1]}), FEATURES).to_df()
    with pytest.raises(headwater.InvalidInputError, match="must be before"):
        store.materialize(datetime(2024, 1, 2), datetime(2024, 1, 1))
    with pytest.raises(headwater.InvalidInputError, match="must be a datetime"):
        store.materialize("2024-01-01", datetime(2024, 1, 2))
    # Every core error is a HeadwaterError and a familiar built-in.
    assert issubclass(headwater.InvalidInputError, ValueError)
    assert issubclass(headwater.NotFoundError, LookupError)
    assert issubclass(headwater.StoreError, OSError)


def test_messages_quoting_binary_input_stay_readable(tmp_path):
    (tmp_path / "feature_store.yaml").write_bytes(b"project: p\n\x1b[31mred\xff: 1\n")
    with pytest.raises(headwater.InvalidInputError) as raised:
        FeatureStore(tmp_path)
    message = str(raised.value)
    assert "feature_store.yaml:2" in message and "\\x1b" in message and "\x1b" not in message


def test_stored_non_finite_values_read_as_none(store):
    now = datetime.now(timezone.utc)
    rows = pd.DataFrame(dict(driver_id=[1001, 1002], event_timestamp=[now] * 2, created=[now] * 2,
                             conv_rate=[float("nan"), 0.5], acc_rate=[float("inf"), 0.5],
                             avg_daily_trips=[1, 2]))
    store.write_to_online_store("driver_hourly_stats", pa.Table.from_pandas(rows, preserve_index=False))
    values = store.get_online_features(FEATURES, [{"driver_id": 1001}, {"driver_id": 1002}]).to_dict()
    assert values["conv_rate"] == [None, 0.5] and values["acc_rate"] == [None, 0.5]


def test_errors_for_a_missing_or_empty_repository(tmp_path):
    with pytest.raises(headwater.HeadwaterError, match="feature_store.yaml"):
        FeatureStore(tmp_path / "nowhere")
    (tmp_path / "feature_store.yaml").write_text("project: empty\nregistry: data/registry.json\n")
    store = FeatureStore(tmp_path)
    with pytest.raises(headwater.InvalidInputError, match="apply definitions first"):
        store.get_online_features(FEATURES, [{"driver_id": 1}])


def test_the_core_runs_without_the_gil(store, driver_repo):
    data = source_rows(driver_repo)
    n = 400_000
    rng = np.random.default_rng(1)
    entity_df = pd.DataFrame({
        "driver_id": rng.integers(1001, 1006, n),
        "event_timestamp": data["event_timestamp"].sample(n, replace=True, random_state=1).array,
    })
    table = pa.Table.from_pandas(entity_df, preserve_index=False)
    ticks = 0
    stop = False

    def count():
        nonlocal ticks
        while not stop:
            ticks += 1
            time.sleep(0.0005)

    counter = threading.Thread(target=count)
    counter.start()
    try:
        time.sleep(0.05)
        started_ticks = ticks
        started = time.perf_counter()
        store.get_historical_features(table, FEATURES).to_arrow()
        elapsed = time.perf_counter() - started
        during = ticks - started_ticks
    finally:
        stop = True
        counter.join()
    # A thread holding the GIL for the whole call would leave the counter still.
    assert elapsed > 0.02 and during > 5, (elapsed, during)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/New_York"])
def test_quickstart_workflow_runs(driver_repo, zone):
    """Feast's quickstart, unedited, wherever its user is: `end_date=datetime.now()` (naive, local
    time) materializes up to now — east of UTC it was refused as in the future, west of it it
    stopped hours short."""
    env = dict(os.environ, TZ=zone,
               PATH=f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run([sys.executable, "test_workflow.py"], cwd=driver_repo, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    end = re.search(r"driver_hourly_stats: \[[^,]+, ([^)]+)\)", out).group(1)
    ended = datetime.fromisoformat(end.replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - ended).total_seconds()) < 120, (zone, end)
    assert "--- Online features again with updated values from a stream push---" in out
    after_push = out.split("updated values from a stream push---")[1]
    assert "avg_daily_trips  :  [1000," in after_push
    # Feast's pandas on-demand view over the pushed values: conv_rate 1.0 + val_to_add 1000.
    assert "conv_rate_plus_val1  :  [1001.0," in after_push
    assert "Removed registry" in out
