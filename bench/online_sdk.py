"""get_online_features from Python, one script for both SDKs: only the imports and the store
configuration differ. Run with .venv's Python for Headwater and .venv-bench's for Feast.

Usage: online_sdk.py headwater|feast FEATURES_PARQUET ITERATIONS [ODFV_MODE ...]
Applies a 10-feature view over the benchmark data (ttl 0, so 2024 data is served), materializes
it, then times get_online_features(...).to_dict() for 1 and 100 entity rows of 10 features.
With ODFV modes (expression, substrait, pandas, python), also 10 features + 5 on-demand features of a view
in that mode over the same view and a request value, sent with each entity row.
Prints JSON: per case p50/p99 in microseconds and calls per second.
"""
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

engine, features_path, iterations = sys.argv[1], Path(sys.argv[2]).resolve(), int(sys.argv[3])
odfv_modes = sys.argv[4:]
if engine == "feast":
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RequestSource
    from feast.on_demand_feature_view import OnDemandFeatureView, on_demand_feature_view
    from feast.types import Float64
    from feast.value_type import ValueType
    CONFIG = ("project: bench\nregistry: registry.db\nprovider: local\n"
              "online_store: {type: sqlite, path: online.db}\noffline_store: {type: file}\n"
              "entity_key_serialization_version: 3\n")
else:
    from headwater import (Entity, FeatureStore, FeatureView, Field, FileSource,
                           OnDemandFeatureView, RequestSource, on_demand_feature_view)
    from headwater.types import Float64
    from headwater.value_type import ValueType
    CONFIG = ("project: bench\nregistry: registry.json\nprovider: local\n"
              "online_store: {type: rocksdb, path: online}\noffline_store: {type: file}\n")

names = [f"f{i}" for i in range(10)]
references = [f"driver_stats:{n}" for n in names]
keys = np.unique(pq.read_table(features_path, columns=["driver_id"]).column(0).to_numpy())
rng = np.random.default_rng(7)
out = {"engine": engine, "keys": int(len(keys))}
OUTPUTS = [f"o{i}" for i in range(5)]
# The same five features four ways: Headwater's expressions, an Ibis function (substrait), a
# pandas and a python function.
EXPRESSIONS = {"o0": "f0 + val", "o1": "f1 * f2", "o2": "f3 / (f4 + 1)", "o3": "sqrt(abs(f5))",
               "o4": "greatest(f6, f7)"}


def transformed_pandas(inputs):
    df = pd.DataFrame()
    df["o0"] = inputs["f0"] + inputs["val"]
    df["o1"] = inputs["f1"] * inputs["f2"]
    df["o2"] = inputs["f3"] / (inputs["f4"] + 1)
    df["o3"] = np.sqrt(np.abs(inputs["f5"]))
    df["o4"] = np.maximum(inputs["f6"], inputs["f7"])
    return df


def transformed_python(inputs):
    return {"o0": [a + b for a, b in zip(inputs["f0"], inputs["val"])],
            "o1": [a * b for a, b in zip(inputs["f1"], inputs["f2"])],
            "o2": [a / (b + 1) for a, b in zip(inputs["f3"], inputs["f4"])],
            "o3": [abs(a) ** 0.5 for a in inputs["f5"]],
            "o4": [max(a, b) for a, b in zip(inputs["f6"], inputs["f7"])]}


def transformed_ibis(t):
    import ibis
    return t.mutate(o0=t.f0 + t.val, o1=t.f1 * t.f2, o2=t.f3 / (t.f4 + 1), o3=t.f5.abs().sqrt(),
                    o4=ibis.ifelse(t.f6 > t.f7, t.f6, t.f7))


def on_demand_view(mode, view, request):
    schema = [Field(name=n, dtype=Float64) for n in OUTPUTS]
    if mode == "substrait":
        return on_demand_feature_view(name=f"odfv_{mode}", sources=[view, request], schema=schema,
                                      mode=mode)(transformed_ibis)
    if mode == "expression":
        return OnDemandFeatureView(name=f"odfv_{mode}", sources=[view, request], schema=schema,
                                   expressions=EXPRESSIONS)
    udf = transformed_pandas if mode == "pandas" else transformed_python
    return on_demand_feature_view(name=f"odfv_{mode}", sources=[view, request], schema=schema,
                                  mode=mode)(udf)


def time_calls(store, references, requests, check):
    got = store.get_online_features(features=references, entity_rows=requests[0]).to_dict()
    assert all(v is not None for v in got[check]), "a benchmark key has no online value"
    latencies = []
    for i, entity_rows in enumerate(requests):
        t0 = time.perf_counter_ns()
        store.get_online_features(features=references, entity_rows=entity_rows).to_dict()
        if i >= 50:  # warm-up excluded
            latencies.append((time.perf_counter_ns() - t0) / 1000)
    latencies.sort()
    return {"p50_us": statistics.median(latencies),
            "p99_us": latencies[int(len(latencies) * 0.99) - 1],
            "calls_per_second": 1e6 / statistics.mean(latencies)}


with tempfile.TemporaryDirectory() as repo:
    Path(repo, "feature_store.yaml").write_text(CONFIG)
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    source = FileSource(name="stats", path=str(features_path), timestamp_field="event_timestamp",
                        created_timestamp_column="created")
    view = FeatureView(name="driver_stats", entities=[driver], ttl=timedelta(0),
                       schema=[Field(name=n, dtype=Float64) for n in names], source=source,
                       online=True)
    request = RequestSource(name="request", schema=[Field(name="val", dtype=Float64)])
    odfvs = [on_demand_view(mode, view, request) for mode in odfv_modes]
    store = FeatureStore(repo_path=repo)
    store.apply([driver, source, view, request, *odfvs])
    started = time.perf_counter()
    store.materialize(start_date=datetime(2024, 4, 1, tzinfo=timezone.utc),
                      end_date=datetime(2024, 7, 1, tzinfo=timezone.utc))
    out["materialize_seconds"] = time.perf_counter() - started
    for rows in (1, 100):
        requests = [[{"driver_id": int(k)} for k in rng.choice(keys, rows)]
                    for _ in range(iterations + 50)]
        out[f"{rows}x10"] = time_calls(store, references, requests, "f0")
        for mode in odfv_modes:
            with_values = [[{"driver_id": int(k), "val": float(v)}
                            for k, v in zip(rng.choice(keys, rows), rng.random(rows))]
                           for _ in range(iterations + 50)]
            odfv_refs = references + [f"odfv_{mode}:{n}" for n in OUTPUTS]
            out[f"{rows}x10+5_{mode}"] = time_calls(store, odfv_refs, with_values, "o0")
print(json.dumps(out))
