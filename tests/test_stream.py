"""Stream feature views: windows over pushed events, online and offline, backfill, crashes."""
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import HEADWATER
from test_online import iso


def iso_us(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
from test_server import Server

US = pa.timestamp("us", tz="UTC")
MINUTE = 60_000_000
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

DEFINITIONS = """
entities: [{name: ticker, join_keys: [ticker], value_type: STRING}]
sources:
  - {name: trades, path: data/trades, timestamp_field: timestamp}
  - {name: trades_push, type: push, batch_source: trades, watermark_delay: 10s}
feature_views:
  - name: ticker_windows
    entities: [ticker]
    source: trades_push
    ttl: 0
    aggregations:
      - {column: price, function: min, time_window: 5m, slide_interval: 1m}
      - {column: price, function: max, time_window: 5m, slide_interval: 1m}
      - {column: price, function: mean, time_window: 10m, slide_interval: 1m}
      - {column: price, function: count, time_window: 10m, slide_interval: 1m}
      - {column: price, function: stddev, time_window: 10m, slide_interval: 1m}
      - {column: price, function: last, time_window: 5m, slide_interval: 1m}
      - {column: size, function: sum, time_window: 2m}
"""
FEATURES = ["min_price_5m", "max_price_5m", "mean_price_10m", "count_price_10m",
            "stddev_price_10m", "last_price_5m", "sum_size_2m"]
SPECS = [("price", "min", 5, 1), ("price", "max", 5, 1), ("price", "mean", 10, 1),
         ("price", "count", 10, 1), ("price", "stddev", 10, 1), ("price", "last", 5, 1),
         ("size", "sum", 2, 2)]
SCHEMA = pa.schema([("ticker", pa.string()), ("price", pa.float64()), ("size", pa.int64()),
                    ("timestamp", US)])


def write_repo(root, checkpoint="100ms"):
    (root / "data" / "trades").mkdir(parents=True, exist_ok=True)
    (root / "feature_store.yaml").write_text(
        f"project: ticker\nstream: {{checkpoint_interval: {checkpoint}}}\n")
    (root / "defs.yaml").write_text(DEFINITIONS)
    # The batch source's schema; one ancient trade.
    pq.write_table(pa.Table.from_pylist(
        [dict(ticker="OLD", price=1.0, size=1, timestamp=datetime(2001, 1, 1, tzinfo=timezone.utc))],
        schema=SCHEMA), root / "data" / "trades" / "0000-history.parquet")


def trades(count, seed=1, tickers=("ETH-USD", "BTC-USD", "SOL-USD")):
    """Events mostly in time order, some up to 8 s out of order (within the 10 s delay)."""
    rng = random.Random(seed)
    t = T0
    out = []
    for _ in range(count):
        t += timedelta(milliseconds=rng.randrange(0, 4000))
        jitter = timedelta(milliseconds=rng.randrange(0, 8000)) if rng.random() < 0.2 else timedelta()
        out.append(dict(ticker=rng.choice(tickers), price=round(rng.uniform(90, 110), 2),
                        size=rng.randrange(1, 100), timestamp=t - jitter))
    return out


def micros(t):
    return int(t.timestamp()) * 1_000_000 + t.microsecond


def expected(events, ticker, at):
    """The definition, from raw events: each aggregate's window ending at floor(at / slide)."""
    row = []
    for column, function, size, slide in SPECS:
        end = at // (slide * MINUTE) * slide * MINUTE
        values = [e[column] for e in events if e["ticker"] == ticker
                  and end - size * MINUTE <= micros(e["timestamp"]) < end]
        if function == "count":
            row.append(len(values))
        elif function == "sum":
            row.append(sum(values))
        elif not values:
            row.append(None)
        elif function == "min":
            row.append(min(values))
        elif function == "max":
            row.append(max(values))
        elif function == "mean":
            row.append(sum(values) / len(values))
        elif function == "last":
            in_window = [e for e in events if e["ticker"] == ticker
                         and end - size * MINUTE <= micros(e["timestamp"]) < end]
            row.append(max(in_window, key=lambda e: e["timestamp"])["price"])
        elif function == "stddev":
            if len(values) < 2:
                row.append(None)
            else:
                mean = sum(values) / len(values)
                row.append(math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)))
    return row


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def df_of(events):
    return {"ticker": [e["ticker"] for e in events], "price": [e["price"] for e in events],
            "size": [e["size"] for e in events], "timestamp": [iso_us(e["timestamp"]) for e in events]}


def push_all(server, events, chunk=50, to="online"):
    for i in range(0, len(events), chunk):
        status, response = server.post("/push", {"push_source_name": "trades_push",
                                                 "df": df_of(events[i:i + chunk]), "to": to})
        assert status == 200, response
        assert response["online_views"] == ["ticker_windows"]


def online(server, tickers):
    status, response = server.post("/get-online-features", {
        "features": [f"ticker_windows:{f}" for f in FEATURES], "entities": {"ticker": tickers}})
    assert status == 200, response
    return response


def window_rows(repo, pattern="part-*.parquet"):
    files = sorted((repo / "data" / "offline" / "ticker_windows").glob(pattern))
    rows = []
    for f in files:
        rows += pq.read_table(f).to_pylist()
    return sorted(rows, key=lambda r: (r["ticker"], r["event_timestamp"]))


@pytest.fixture
def repo(tmp_path, cli):
    write_repo(tmp_path)
    cli("apply")
    return tmp_path


def test_integers_beyond_doubles_are_summed_as_the_nearest_double(repo):
    """An int64 beyond 2^53 is a valid event: its window sums the nearest double (a checked
    cast used to refuse it after it was logged, so the source could not replay)."""
    big = 2 ** 53 + 1
    server = Server(repo)
    try:
        t = datetime(2026, 1, 1, tzinfo=timezone.utc)
        events = [{"ticker": "A", "price": 1.0, "size": big, "timestamp": t},
                  {"ticker": "A", "price": 1.0, "size": 1, "timestamp": t + timedelta(minutes=10)}]
        push_all(server, events)
    finally:
        server.stop()
    rows = window_rows(repo)
    assert float(big) in [r["sum_size_2m"] for r in rows]


def test_pushed_events_become_windows_online_and_offline(repo, cli, tmp_path):
    events = trades(800)
    server = Server(repo)
    try:
        push_all(server, events, to="online_and_offline")
        watermark = max(micros(e["timestamp"]) for e in events) - 10_000_000
        final = watermark // MINUTE * MINUTE
        tickers = ["ETH-USD", "BTC-USD", "SOL-USD", "NOPE"]
        response = online(server, tickers)
        for i, ticker in enumerate(tickers[:3]):
            want = expected(events, ticker, final)
            got = [response["results"][f + 1]["values"][i] for f in range(len(FEATURES))]
            assert all(close(g, w) for g, w in zip(got, want)), (ticker, got, want)
            ts = response["results"][1]["event_timestamps"][i]
            assert ts == iso(datetime.fromtimestamp(final / 1e6, timezone.utc))
        assert response["results"][1]["statuses"][3] == "NOT_FOUND"
        metrics = server.get("/metrics")[1]
        assert 'headwater_stream_events_total{source="trades_push"} 800' in metrics
        assert 'headwater_stream_late_events_total{source="trades_push"} 0' in metrics
    finally:
        server.stop()  # the last checkpoint commits the offline rows

    # Offline: every committed row is the definition at its time.
    rows = window_rows(repo)
    assert len(rows) > 60  # 3 tickers x ~27 minutes
    for row in rows[::7]:
        at = micros(row["event_timestamp"])
        assert at <= final
        want = expected(events, row["ticker"], at)
        assert all(close(row[f], w) for f, w in zip(FEATURES, want)), ([row[f] for f in FEATURES], want)

    # Training data: the value at t is the window row at floor(t / 1m), as online was at t.
    times = [T0 + timedelta(minutes=m, seconds=s) for m, s in [(3, 0), (7, 30), (12, 59), (20, 1)]]
    entity_rows = [dict(ticker=t, event_timestamp=at, label=1) for t in ["ETH-USD", "SOL-USD"]
                   for at in times]
    pq.write_table(pa.Table.from_pylist(entity_rows), tmp_path / "entities.parquet")
    cli("get-historical-features", "--entities", tmp_path / "entities.parquet", "--features",
        ",".join(f"ticker_windows:{f}" for f in FEATURES), "--output", tmp_path / "train.parquet")
    for row in pq.read_table(tmp_path / "train.parquet").to_pylist():
        want = expected(events, row["ticker"], micros(row["event_timestamp"]))
        assert all(close(row[f], w) for f, w in zip(FEATURES, want)), ([row[f] for f in FEATURES], want)


def test_backfill_computes_what_the_stream_computed(repo, cli, tmp_path):
    events = trades(600, seed=3)
    server = Server(repo)
    try:
        push_all(server, events, to="online_and_offline")  # raw events also land in data/trades
        streamed_online = online(server, ["ETH-USD", "BTC-USD", "SOL-USD"])
    finally:
        server.stop()
    streamed = window_rows(repo)
    final = max(micros(r["event_timestamp"]) for r in streamed)

    # A second repository with the same history and no stream state: materialize backfills.
    other = tmp_path / "backfill"
    other.mkdir()
    write_repo(other)
    for f in (repo / "data" / "trades").iterdir():
        shutil.copy(f, other / "data" / "trades" / f.name)
    cli("-c", other, "apply")
    end = datetime.fromtimestamp(final / 1e6, timezone.utc)
    cli("-c", other, "materialize", iso(T0 - timedelta(hours=1)), iso(end))
    backfilled = [r for r in window_rows(other, "backfill-*.parquet") if r["ticker"] != "OLD"]
    assert backfilled == streamed
    server = Server(other)
    try:
        assert online(server, ["ETH-USD", "BTC-USD", "SOL-USD"])["results"] == \
            streamed_online["results"]
    finally:
        server.stop()


def test_late_and_bad_events(repo, cli):
    server = Server(repo)
    try:
        on_time = [dict(ticker="ETH-USD", price=100.0, size=1, timestamp=T0 + timedelta(minutes=m))
                   for m in range(10)]
        push_all(server, on_time)
        late = [dict(ticker="ETH-USD", price=1.0, size=1, timestamp=T0 + timedelta(minutes=2))]
        push_all(server, late)  # accepted (it is logged) but its window is final: dead-lettered
        metrics = server.get("/metrics")[1]
        assert 'headwater_stream_late_events_total{source="trades_push"} 1' in metrics
        assert online(server, ["ETH-USD"])["results"][1]["values"] == [100.0]  # min untouched

        # Bad pushes are refused whole, before the write-ahead log: its position (a byte offset
        # over all segments; a checkpoint may delete segments meanwhile) does not move.
        position = 'headwater_stream_position{source="trades_push",partition="0"}'

        def logged():
            found = re.search(re.escape(position) + r" (\S+)", server.get("/metrics")[1])
            return float(found.group(1))
        before = logged()
        bad = df_of(on_time[:2])
        for df, message in [({**bad, "ticker": ["ETH-USD", None]}, "df.ticker[1] is null"),
                            ({**bad, "timestamp": ["2026-03-02T09:00:00", "yesterday"]}, "yesterday"),
                            ({k: v for k, v in bad.items() if k != "price"}, "price"),
                            ({**bad, "price": ["cheap", 1.0]}, "price")]:
            status, response = server.post("/push", {"push_source_name": "trades_push", "df": df})
            assert status == 400 and message in json.dumps(response), (df, response)
        raw = json.dumps({"push_source_name": "trades_push", "df": bad}).encode()
        status, response = server.post("/push", raw=raw.replace(b"ETH-USD", b"ETH-\xff", 1))
        assert status == 400 and "encoding" in json.dumps(response).lower(), response
        assert logged() == before > 0
    finally:
        server.stop()
    dead = list((repo / "data" / "stream" / "trades_push" / "dead_letters").iterdir())
    lines = [json.loads(line) for f in dead for line in f.read_text().splitlines()]
    assert len(lines) == 1 and lines[0]["reason"].startswith("late") and \
        lines[0]["view"] == "ticker_windows" and lines[0]["event"]["price"] == "1"


def dump(cli, repo):
    return cli("-c", repo, "online-dump", "--view", "ticker_windows").stdout


def test_kill_9_at_any_point_loses_and_doubles_nothing(repo, cli, tmp_path):
    events = trades(1500, seed=5)
    batches = [events[i:i + 25] for i in range(0, len(events), 25)]

    # The uninterrupted run.
    clean = tmp_path / "clean"
    clean.mkdir()
    write_repo(clean)
    cli("-c", clean, "apply")
    server = Server(clean)
    for batch in batches:
        push_all(server, batch, chunk=len(batch))
    server.stop()

    # The same pushes, with the server killed (SIGKILL) at random moments and restarted; each
    # acknowledged push is never sent again.
    rng = random.Random(9)
    server = Server(repo)
    kills = 0
    for i, batch in enumerate(batches):
        push_all(server, batch, chunk=len(batch))
        if rng.random() < 0.12:
            time.sleep(rng.uniform(0, 0.25))  # lands before, during or after a checkpoint
            server.process.send_signal(signal.SIGKILL)
            server.process.wait()
            kills += 1
            server = Server(repo)
    server.stop()
    assert kills >= 3
    assert window_rows(repo) == window_rows(clean)
    assert dump(cli, repo) == dump(cli, clean)


def test_offline_false_keeps_windows_online_only(tmp_path, cli):
    write_repo(tmp_path)
    (tmp_path / "defs.yaml").write_text(DEFINITIONS.replace("    ttl: 0\n", "    ttl: 0\n    offline: false\n"))
    cli("apply")
    events = trades(300, seed=8)
    server = Server(tmp_path)
    try:
        push_all(server, events)
        assert online(server, ["ETH-USD"])["results"][1]["statuses"] == ["PRESENT"]
    finally:
        server.stop()
    assert window_rows(tmp_path) == []


def test_on_demand_views_read_stream_windows_online_and_offline(repo, cli, tmp_path):
    """A stream view feeds an on-demand view (issue 14): the spread of the 5-minute range over
    the 10-minute mean, the same online and in training data."""
    (repo / "on_demand.yaml").write_text(
        "on_demand_feature_views:\n"
        "  - name: spread\n"
        "    sources: [ticker_windows]\n"
        "    schema: [{name: range_over_mean, dtype: Float64}]\n"
        "    expressions: {range_over_mean: (max_price_5m - min_price_5m) / mean_price_10m}\n")
    cli("apply")
    events = trades(400)
    server = Server(repo)
    try:
        push_all(server, events, to="online_and_offline")
        status, body = server.post("/get-online-features", {
            "features": ["spread:range_over_mean", "ticker_windows:max_price_5m",
                         "ticker_windows:min_price_5m", "ticker_windows:mean_price_10m"],
            "entities": {"ticker": ["ETH-USD", "NOPE"]}})
        assert status == 200, body
        ratio, high, low, mean = (r["values"] for r in body["results"][1:])
        assert ratio[0] == (high[0] - low[0]) / mean[0] and ratio[1] is None
        assert body["results"][1]["event_timestamps"][0] == body["results"][2]["event_timestamps"][0]
    finally:
        server.stop()
    times = [T0 + timedelta(minutes=m) for m in (4, 9, 13)]
    pq.write_table(pa.Table.from_pylist([dict(ticker="SOL-USD", event_timestamp=t) for t in times]),
                   tmp_path / "entities.parquet")
    cli("get-historical-features", "--entities", tmp_path / "entities.parquet", "--features",
        "spread:range_over_mean,ticker_windows:max_price_5m,ticker_windows:min_price_5m,"
        "ticker_windows:mean_price_10m", "--output", tmp_path / "train.parquet")
    rows = pq.read_table(tmp_path / "train.parquet").to_pylist()
    assert all(r["range_over_mean"] == (r["max_price_5m"] - r["min_price_5m"]) / r["mean_price_10m"]
               for r in rows), rows
