"""Feast repositories applied and run by Headwater unchanged (issue 16): Feast 0.67's local
template and its test_workflow.py, against Feast's own answers on a copy of the same repository;
definition files that import feast with no feast package installed; SQLite online store and Json
documents; .feastignore and inferred entity types."""
import ast
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import HEADWATER, ROOT

HEADWATER_PYTHON = str(ROOT / ".venv" / "bin" / "python")


@pytest.fixture(scope="module")
def feast_python():
    """Feast from PyPI in its own cached venv (scripts/feast_venv): copies the templates out and
    answers as the oracle. Headwater never imports it."""
    made = subprocess.run([ROOT / "scripts" / "feast_venv"], capture_output=True, text=True,
                          timeout=1800)
    assert made.returncode == 0, made.stderr
    return Path(made.stdout.strip().splitlines()[-1])


def feast_as_headwater(tmp_path: Path) -> Path:
    """A directory holding a `feast` command that runs headwater (what test_workflow.py calls)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "feast").write_text(f'#!/bin/sh\nexec "{HEADWATER}" "$@"\n')
    (bin_dir / "feast").chmod(0o755)
    return bin_dir


# Training data for the template's views, as test_workflow.py asks for it, written as JSON
# lines sorted by driver: (driver, event time, feature values).
RETRIEVAL = """
import json, sys
from datetime import datetime
import pandas as pd
from feast import FeatureStore
store = FeatureStore(repo_path=".")
NOW = pd.Timestamp(sys.argv[2])  # the same instant for both runs
entity_df = pd.DataFrame({
    "driver_id": [1001, 1002, 1003, 1001, 1005],
    "event_timestamp": [datetime(2021, 4, 12, 10, 59, 42), datetime(2021, 4, 12, 8, 12, 10),
                        datetime(2021, 4, 12, 16, 40, 26), NOW - pd.Timedelta(hours=30), NOW],
    "val_to_add": [1, 2, 3, 4, 5], "val_to_add_2": [10, 20, 30, 40, 50]})
entity_df["event_timestamp"] = pd.to_datetime(entity_df["event_timestamp"], utc=True)
features = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate",
            "driver_hourly_stats:avg_daily_trips", "transformed_conv_rate:conv_rate_plus_val1",
            "transformed_conv_rate:conv_rate_plus_val2"]
df = store.get_historical_features(entity_df=entity_df, features=features).to_df()
names = [f.split(":")[1] for f in features]
rows = sorted((int(r.driver_id), str(r.event_timestamp), [None if pd.isna(getattr(r, n)) else float(getattr(r, n)) for n in names])
              for r in df.itertuples())
with open(sys.argv[1], "w") as out:
    json.dump(rows, out)
"""


def online_sections(output: str):
    """The feature values test_workflow.py prints, per section: {name: values}."""
    sections, current = {}, None
    for line in output.splitlines():
        if line.startswith("--- "):
            current = sections.setdefault(line, {})
        elif current is not None and "  :  " in line:
            name, values = line.split("  :  ", 1)
            current[name] = ast.literal_eval(values)
    return {title: values for title, values in sections.items() if values}


@pytest.fixture(scope="module")
def feast_template(tmp_path_factory, feast_python):
    """The repository `feast init -t local` writes (Feast 0.67's local template)."""
    root = tmp_path_factory.mktemp("template")
    created = subprocess.run([feast_python.parent / "feast", "init", "-t", "local", "demo"],
                             cwd=root, capture_output=True, text=True, timeout=300)
    assert created.returncode == 0, created.stderr
    return root / "demo" / "feature_repo"


def test_feast_local_template_runs_unedited_and_answers_as_feast(tmp_path, feast_python,
                                                                 feast_template):
    feast_bin = feast_python.parent
    template = feast_template
    feast_repo, ours = tmp_path / "feast_copy", tmp_path / "headwater_copy"
    shutil.copytree(template, feast_repo)
    shutil.copytree(template, ours)
    (tmp_path / "retrieve.py").write_text(RETRIEVAL)
    now = datetime.now().astimezone().isoformat()

    # Feast's answers on its copy: training data, then its own workflow.
    feast_env = {**os.environ, "PATH": f"{feast_bin}:{os.environ['PATH']}"}
    for args in ([feast_bin / "feast", "apply"],
                 [feast_python, tmp_path / "retrieve.py", tmp_path / "feast.json", now]):
        done = subprocess.run(args, cwd=feast_repo, env=feast_env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr
    feast_run = subprocess.run([feast_python, "test_workflow.py"], cwd=feast_repo, env=feast_env,
                               capture_output=True, text=True, timeout=600)
    assert feast_run.returncode == 0, feast_run.stderr

    # Headwater on its copy, with nothing edited: definitions, configuration and the script
    # (run with `feast` meaning Headwater, in the project's venv, which has no feast package).
    assert "feast" not in subprocess.run(
        [HEADWATER_PYTHON, "-m", "pip", "list"], capture_output=True, text=True).stdout.split()
    ours_env = {**os.environ, "PATH": f"{feast_as_headwater(tmp_path)}:{os.environ['PATH']}"}
    applied = subprocess.run([HEADWATER, "apply"], cwd=ours, capture_output=True, text=True,
                             timeout=300)
    assert applied.returncode == 0, applied.stderr
    assert "14 to add" in applied.stdout
    retrieved = subprocess.run([HEADWATER_PYTHON, "-m", "headwater.feast_compat",
                                tmp_path / "retrieve.py", tmp_path / "ours.json", now], cwd=ours,
                               capture_output=True, text=True, timeout=300)
    assert retrieved.returncode == 0, retrieved.stderr
    assert json.loads((tmp_path / "ours.json").read_text()) == \
        json.loads((tmp_path / "feast.json").read_text())
    run = subprocess.run([HEADWATER_PYTHON, "-m", "headwater.feast_compat", "test_workflow.py"],
                         cwd=ours, env=ours_env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Removed the online store (sqlite)" in run.stdout  # `feast teardown` ran

    expected, got = online_sections(feast_run.stdout), online_sections(run.stdout)
    assert len(expected) == 4, feast_run.stdout
    assert got == expected  # Map, Json and Struct values as dicts; pushed values read back
    updated = got["--- Online features again with updated values from a stream push---"]
    assert updated["conv_rate"][0] == 1.0 and updated["driver_profile"][0]["age"] == "30"



# Training data (with the on-demand view) and online values after materializing, for the Ray
# template's views, as JSON: the same script runs on Feast and on Headwater.
RAY_ANSWERS = """
import json, sys
import pandas as pd
from feast import FeatureStore
store = FeatureStore(repo_path=".")
end = pd.Timestamp(sys.argv[2]).floor("h")
entity_df = pd.DataFrame({"driver_id": [1001, 1002, 1003, 1001], "customer_id": [2001, 2002, 2003, 2004],
                          "event_timestamp": [end - pd.Timedelta(hours=h) for h in (24, 12, 6, 1)]})
entity_df["event_timestamp"] = pd.to_datetime(entity_df["event_timestamp"], utc=True)
features = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate",
            "driver_hourly_stats:avg_daily_trips", "customer_daily_profile:current_balance",
            "customer_daily_profile:avg_passenger_count", "customer_daily_profile:lifetime_trip_count",
            "driver_activity_v2:conv_rate_plus_acc_rate", "driver_activity_v2:trips_per_day_normalized"]
df = store.get_historical_features(entity_df=entity_df, features=features).to_df()
names = [f.split(":")[1] for f in features]
value = lambda v: None if pd.isna(v) else float(v)
training = sorted((int(r.driver_id), str(r.event_timestamp), [value(getattr(r, n)) for n in names])
                  for r in df.itertuples())
store.materialize_incremental(end_date=end.to_pydatetime())
online = store.get_online_features(
    features=["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate",
              "customer_daily_profile:current_balance"],
    entity_rows=[{"driver_id": 1001, "customer_id": 2001}, {"driver_id": 1002, "customer_id": 2002}]
).to_dict()
online = {k: [value(v) for v in vs] for k, vs in online.items()}
with open(sys.argv[1], "w") as out:
    json.dump({"training": training, "online": online}, out)
"""


def same_within_float32(got, expected) -> bool:
    """Equal structures, numbers within float32 precision."""
    if isinstance(expected, float) and isinstance(got, (int, float)):
        return got == pytest.approx(expected, rel=1e-6)
    if isinstance(expected, dict):
        return isinstance(got, dict) and got.keys() == expected.keys() and all(
            same_within_float32(got[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        return isinstance(got, list) and len(got) == len(expected) and all(
            same_within_float32(g, e) for g, e in zip(got, expected))
    return got == expected


@pytest.fixture(scope="module")
def feast_templates(tmp_path_factory, feast_python):
    """Feast 0.67's Spark and Ray templates (`feast init -t spark|ray`): local engines, no cloud."""
    root = tmp_path_factory.mktemp("templates")
    for template in ("spark", "ray"):
        created = subprocess.run([feast_python.parent / "feast", "init", "-t", template, template],
                                 cwd=root, capture_output=True, text=True, timeout=300)
        assert created.returncode == 0, created.stderr
    return root


def test_feast_ray_template_runs_unedited_and_answers_as_feast(tmp_path, feast_python,
                                                               feast_templates):
    """The Ray template applies as it is (its Ray settings listed as ignored, RaySource read as
    Parquet files); its training data, on-demand view and materialized values equal Feast's, and
    its test_workflow.py runs with Headwater. Feast's answers come from Feast's own file store on
    a copy whose sources are FileSources (the feast venv has no Ray)."""
    template = feast_templates / "ray" / "feature_repo"
    oracle, ours = tmp_path / "feast_copy", tmp_path / "headwater_copy"
    shutil.copytree(template, oracle)
    shutil.copytree(template, ours)
    definitions = oracle / "feature_definitions.py"
    definitions.write_text(definitions.read_text()
                           .replace("from feast.infra.offline_stores.contrib.ray_offline_store"
                                    ".ray_source import RaySource", "from feast import FileSource")
                           .replace("RaySource(", "FileSource(")
                           .replace('reader_type="parquet",', ""))
    (oracle / "feature_store.yaml").write_text(
        "project: my_project\nregistry: data/registry.db\nprovider: local\n"
        "online_store:\n  path: data/online_store.db\nentity_key_serialization_version: 3\n")
    (tmp_path / "answers.py").write_text(RAY_ANSWERS)
    now = datetime.now().astimezone().isoformat()
    for args in ([feast_python.parent / "feast", "apply"],
                 [feast_python, tmp_path / "answers.py", tmp_path / "feast.json", now]):
        done = subprocess.run(args, cwd=oracle, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr

    applied = subprocess.run([HEADWATER, "apply"], cwd=ours, capture_output=True, text=True,
                             timeout=300)
    assert applied.returncode == 0, applied.stderr
    assert "offline_store 'storage_path' is Feast's" in applied.stdout
    assert "batch_engine 'ray.engine' is Feast's" in applied.stdout
    answered = subprocess.run([HEADWATER_PYTHON, "-m", "headwater.feast_compat",
                               tmp_path / "answers.py", tmp_path / "ours.json", now], cwd=ours,
                              capture_output=True, text=True, timeout=300)
    assert answered.returncode == 0, answered.stderr
    expected = json.loads((tmp_path / "feast.json").read_text())
    assert expected["training"] and expected["online"]["conv_rate"][0] is not None
    # Float32 features: Headwater casts on read, Feast's file store hands back the doubles.
    got = json.loads((tmp_path / "ours.json").read_text())
    assert same_within_float32(got, expected), (got, expected)

    # Its own workflow: everything but Ray's Dataset (to_ray_dataset needs Ray) succeeds.
    run = subprocess.run([HEADWATER_PYTHON, "-m", "headwater.feast_compat", "test_workflow.py"],
                         cwd=ours, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    for done in ("Retrieved 1 rows with on-demand transformations",
                 "Ray compute engine materialization successful", "Retrieved 2 online feature rows"):
        assert done in run.stdout, run.stdout


def test_feast_spark_template_is_refused_where_its_definitions_do_not_fit_its_data(
        tmp_path, cli, feast_templates):
    """Feast 0.67's Spark template names entities without join keys, so their key is the name
    ('driver'), which its data does not have (its column is driver_id); its test_workflow.py also
    asks for views it does not define. Headwater reads its Spark settings and SparkSource and
    refuses the mismatch at apply, naming the file, line and column."""
    repo = tmp_path / "spark"
    shutil.copytree(feast_templates / "spark" / "feature_repo", repo)
    applied = cli("apply", cwd=repo, ok=False)
    assert applied.returncode != 0
    assert ("feature_definitions.py:45: feature_view 'driver_hourly_stats': join key 'driver' of "
            "entity 'driver' is not a column of source 'driver_hourly_stats'") in applied.stderr
    # With the join keys the data has, it applies and answers.
    definitions = repo / "feature_definitions.py"
    definitions.write_text(definitions.read_text()
                           .replace('name="driver",', 'name="driver", join_keys=["driver_id"],')
                           .replace('name="customer",', 'name="customer", join_keys=["customer_id"],'))
    assert "offline_store 'spark_conf' is Feast's" in cli("apply", cwd=repo).stdout
    listed = json.loads(cli("data-sources", "list", "--json", cwd=repo).stdout)
    assert {s["name"] for s in listed} == {"driver_hourly_stats", "customer_daily_profile"}


FEAST_DEFINITIONS = '''
from datetime import timedelta

from feast import (BatchFeatureView, Entity, FeatureService, Field, FileSource, Project,
                   PushSource, StreamFeatureView, ValueType)
from feast.data_format import ParquetFormat
from feast.stream_feature_view import stream_feature_view
from feast.types import Float32, Int64, Json, String

project = Project(name="shop", description="ignored: feature_store.yaml names the project")
# No value_type: read from the data (a string column).
customer = Entity(name="customer", join_keys=["customer_id"])
orders = FileSource(path="data/orders.parquet", event_timestamp_column="ts",
                    file_format=ParquetFormat())
order_push = PushSource(name="order_push", batch_source=orders)

# The join key listed in the schema, as Feast allows: not a feature.
order_stats = BatchFeatureView(
    name="order_stats", entities=[customer], ttl=timedelta(days=2), source=orders,
    schema=[Field(name="customer_id", dtype=String), Field(name="amount", dtype=Float32),
            Field(name="items", dtype=Int64), Field(name="basket", dtype=Json)],
    enable_validation=True)

@stream_feature_view(entities=[customer], ttl=timedelta(days=2), source=order_push,
                     schema=[Field(name="amount", dtype=Float32)], online=True)
def fresh_orders(df):
    return df

service = FeatureService(name="checkout", features=[order_stats, fresh_orders])
'''


def write_feast_repo(root: Path):
    (root / "data").mkdir(parents=True)
    (root / "feature_store.yaml").write_text(
        "project: shop\nregistry: data/registry.db\nprovider: local\n"
        "online_store:\n  type: sqlite\n  path: data/online_store.db\n"
        "entity_key_serialization_version: 3\n")
    now = datetime.now().replace(microsecond=0)
    rows = [dict(customer_id="c1", ts=now - timedelta(hours=3), amount=1.5, items=2,
                 basket=json.dumps({"sku": ["a", "b"], "gift": False})),
            dict(customer_id="c1", ts=now - timedelta(hours=1), amount=4.0, items=1,
                 basket=json.dumps({"sku": ["c"], "gift": True})),
            dict(customer_id="c2", ts=now - timedelta(hours=2), amount=7.25, items=5, basket=None)]
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema([
        ("customer_id", pa.string()), ("ts", pa.timestamp("us")), ("amount", pa.float64()),
        ("items", pa.int64()), ("basket", pa.string())])), root / "data" / "orders.parquet")
    (root / "features.py").write_text(FEAST_DEFINITIONS)
    (root / "notebooks").mkdir()
    (root / "notebooks" / "scratch.py").write_text("raise SystemExit('must not be applied')\n")
    (root / "old_defs.py").write_text("import nothing_installed\n")
    (root / ".feastignore").write_text("# Feast's ignore file\nnotebooks/\nold_*.py\n")


def test_feast_definitions_apply_without_feast_installed(tmp_path, cli):
    write_feast_repo(tmp_path)
    applied = cli("apply")
    assert "feature_view order_stats" in applied.stdout and "fresh_orders" in applied.stdout
    dump = json.loads(cli("registry-dump").stdout)
    [entity] = dump["entities"]
    assert entity["value_type"] == "String"  # inferred from the data
    views = {v["name"]: v for v in dump["feature_views"]}
    assert [f["name"] for f in views["order_stats"]["features"]] == ["amount", "items", "basket"]
    assert views["order_stats"]["features"][2]["dtype"] == "Json"
    assert views["fresh_orders"]["source"] == "order_push"

    # Json documents: served as JSON values, read from JSON text, on the SQLite store.
    cli("materialize-incremental", (datetime.utcnow() + timedelta(minutes=1)).isoformat())
    response = json.loads(cli("get-online-features", "--entities",
                              json.dumps({"customer_id": ["c1", "c2", "c3"]}),
                              "--features", "order_stats:basket,order_stats:amount").stdout)
    results = dict(zip(response["metadata"]["feature_names"], response["results"]))
    assert results["basket"]["values"] == [{"sku": ["c"], "gift": True}, None, None]
    assert results["basket"]["statuses"] == ["PRESENT", "NULL_VALUE", "NOT_FOUND"]
    assert results["amount"]["values"] == [4.0, 7.25, None]


@pytest.mark.parametrize("body, message", [
    ("def f(df):\n    return df[df.amount > 1]\n", "its udf transforms the source's rows"),
    ("def f(df):\n    df['x'] = 1\n    return df\n", "its udf transforms the source's rows"),
])
def test_stream_view_transformations_are_refused_clearly(tmp_path, cli, body, message):
    write_feast_repo(tmp_path)
    text = FEAST_DEFINITIONS.replace("def fresh_orders(df):\n    return df\n",
                                     body.replace("def f", "def fresh_orders"))
    (tmp_path / "features.py").write_text(text)
    result = cli("apply", ok=False)
    assert message in result.stderr and "features.py:" in result.stderr
    assert not (tmp_path / "data" / "registry.db").exists()


def test_a_json_feature_over_text_that_is_not_json_is_refused_and_changes_nothing(tmp_path, cli):
    write_feast_repo(tmp_path)
    cli("apply")
    end = (datetime.utcnow() + timedelta(minutes=1)).isoformat()
    cli("materialize-incremental", end)
    before = cli("registry-dump").stdout
    orders = pq.read_table(tmp_path / "data" / "orders.parquet").to_pylist()
    orders.append(dict(orders[0], ts=datetime.now(), basket="{not json"))
    pq.write_table(pa.Table.from_pylist(orders), tmp_path / "data" / "orders.parquet")
    result = cli("materialize", "2020-01-01T00:00:00", end, ok=False)
    assert "column 'basket'" in result.stderr and "is not a JSON document" in result.stderr
    assert cli("registry-dump").stdout == before


def test_feast_compat_runs_a_script_with_feast_meaning_headwater(tmp_path):
    script = tmp_path / "script.py"
    script.write_text("import sys, feast\nfrom feast.types import Map\n"
                      "from feast.infra.offline_stores.file_source import FileLoggingDestination\n"
                      "print(feast.FeatureStore.__module__, Map, sys.argv[1:])\n"
                      "from feast import NotInHeadwater\n")
    run = subprocess.run([HEADWATER_PYTHON, "-m", "headwater.feast_compat", script, "x"],
                         capture_output=True, text=True, timeout=120)
    assert "headwater.feature_store Json ['x']" in run.stdout
    assert run.returncode != 0 and "cannot import name 'NotInHeadwater'" in run.stderr



def test_spark_and_ray_sources_other_than_parquet_files_are_refused(tmp_path):
    script = tmp_path / "sources.py"
    script.write_text(
        "from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource\n"
        "from feast.infra.offline_stores.contrib.ray_offline_store.ray_source import RaySource\n"
        "for make in (lambda: SparkSource(name='s', table='db.trips'),\n"
        "             lambda: SparkSource(name='s', path='t.csv', file_format='csv'),\n"
        "             lambda: RaySource(name='r', path='t.json', reader_type='json')):\n"
        "    try:\n        make()\n    except ValueError as error:\n        print(error)\n"
        "print(SparkSource(name='ok', path='t.parquet', file_format='parquet',\n"
        "                  timestamp_field='ts').to_definition()['type'])\n")
    run = subprocess.run([HEADWATER_PYTHON, "-m", "headwater.feast_compat", script],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "SparkSource 's': Headwater reads SparkSources over Parquet files (path=..., Parquet); "
        "not table",
        "SparkSource 's': Headwater reads SparkSources over Parquet files (path=..., Parquet); "
        "not file_format='csv'",
        "RaySource 'r': Headwater reads RaySources over Parquet files (path=..., Parquet); "
        "not reader_type='json'",
        "file"]

# Online reads as a Feast client makes them: features with on-demand ones, a feature service,
# and (with "errors") a missing view and a bad token, each caught as the Feast exception class.
ONLINE_CLIENT = """
import json, sys
from pathlib import Path
from feast import FeatureStore
store = FeatureStore(repo_path=".")
rows = [{"driver_id": d, "val_to_add": 10 * d, "val_to_add_2": 100 * d} for d in (1001, 1002, 1003, 42)]
features = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate",
            "driver_hourly_stats:avg_daily_trips", "transformed_conv_rate:conv_rate_plus_val1",
            "transformed_conv_rate:conv_rate_plus_val2"]
out = {"features": store.get_online_features(features=features, entity_rows=rows).to_dict(),
       "service": store.get_online_features(features=store.get_feature_service("driver_activity_v1"),
                                            entity_rows=rows).to_dict()}
if len(sys.argv) > 2:
    for name, call in (
            ("missing_view", lambda: store.get_online_features(features=["nope:x"], entity_rows=rows)),
            ("bad_token", lambda: FeatureStore(repo_path=".", fs_yaml_file=Path("bad_token.yaml"))
                                  .get_online_features(features=features, entity_rows=rows))):
        try:
            call()
            out[name] = "no error"
        except Exception as error:
            out[name] = [type(error).__module__, type(error).__name__, str(error)]
with open(sys.argv[1], "w") as f:
    json.dump(out, f, sort_keys=True)
"""


def remote_client_yaml(project: str, port: int, token: str) -> str:
    return (f"project: {project}\nregistry: data/registry.db\nprovider: local\n"
            f"online_store:\n  type: remote\n  path: http://127.0.0.1:{port}\n"
            f"entity_key_serialization_version: 3\n"
            f"auth:\n  type: kubernetes\n  user_token: {token}\n")


def test_a_feast_client_reads_online_features_from_headwater_serve(tmp_path, feast_python,
                                                                   feast_template):
    """Feast 0.67's SDK with `online_store: type: remote` against `headwater serve` (bearer
    token, --error-body feast) answers exactly as Feast does on its own SQLite store."""
    import hashlib
    from test_server import Server
    feast_bin = feast_python.parent
    end = datetime.now().astimezone().replace(microsecond=0).isoformat()
    (tmp_path / "client.py").write_text(ONLINE_CLIENT)

    def run(args, cwd, env=None):
        done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    # The oracle: Feast alone, materialized to its SQLite online store.
    oracle = tmp_path / "feast_alone"
    shutil.copytree(feast_template, oracle)
    run([feast_bin / "feast", "apply"], oracle)
    run([feast_bin / "feast", "materialize-incremental", end], oracle)
    run([feast_python, tmp_path / "client.py", tmp_path / "oracle.json"], oracle)

    # Headwater serves the same repository, with a token.
    token = "s3cret-token-for-feast-client"
    served = tmp_path / "served"
    shutil.copytree(feast_template, served)
    config = (served / "feature_store.yaml").read_text().replace(
        "auth:\n    type: no_auth\n",
        "auth:\n  tokens:\n    - {name: feast_client, sha256: "
        f"{hashlib.sha256(token.encode()).hexdigest()}, scopes: [read_online]}}\n")
    assert "tokens" in config
    (served / "feature_store.yaml").write_text(config)
    run([HEADWATER, "apply"], served)
    run([HEADWATER, "materialize-incremental", end], served)
    server = Server(served, "--error-body", "feast")
    try:
        # The client: Feast's SDK over its own registry (`feast apply`), reading from Headwater.
        client = tmp_path / "client"
        shutil.copytree(feast_template, client)
        project = (feast_template / "feature_store.yaml").read_text().split()[1]  # project: x
        for name, key in (("feature_store.yaml", token), ("bad_token.yaml", "wrong")):
            (client / name).write_text(remote_client_yaml(project, server.port, key))
        run([feast_bin / "feast", "apply"], client)
        run([feast_python, tmp_path / "client.py", tmp_path / "client.json", "errors"], client)
    finally:
        server.stop()

    expected = json.loads((tmp_path / "oracle.json").read_text())
    got = json.loads((tmp_path / "client.json").read_text())
    assert expected["features"]["conv_rate"][0] is not None  # materialized values, not nulls
    assert expected["features"]["driver_id"] == [1001, 1002, 1003, 42]
    # Float32 features travel as their shortest decimal (0.6422139), which Feast's client reads
    # as a double; Feast's own store hands back the float32 widened (0.6422138810157776). The
    # same float32 either way:
    def as_float32(answer):
        return {name: [float(np.float32(v)) if name in ("conv_rate", "acc_rate") and v is not None
                       else v for v in values] for name, values in answer.items()}
    assert as_float32(got["features"]) == as_float32(expected["features"])
    assert as_float32(got["service"]) == as_float32(expected["service"])
    assert got["missing_view"][:2] == ["feast.errors", "FeatureViewNotFoundException"]
    assert "unknown feature view 'nope'" in got["missing_view"][2]
    assert got["bad_token"][:2] == ["feast.errors", "FeastPermissionError"]


# A Feast client with `offline_store: type: remote`: training data, a pull of every row, a
# materialization (Feast pulls each key's latest row), an offline write, and two errors.
OFFLINE_CLIENT = """
import json, sys
from datetime import datetime, timezone
from pathlib import Path
import pandas as pd
from feast import FeatureStore, FileSource
from feast.infra.offline_stores.remote import RemoteOfflineStore
store = FeatureStore(repo_path=".")
out_dir, start, end = Path(sys.argv[1]), pd.Timestamp(sys.argv[2]), pd.Timestamp(sys.argv[3])
entity_df = pd.read_parquet(out_dir / "entities.parquet")
features = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate",
            "driver_hourly_stats:avg_daily_trips", "transformed_conv_rate:conv_rate_plus_val1"]
store.get_historical_features(entity_df=entity_df, features=features).to_df() \\
    .to_parquet(out_dir / "client_training.parquet")

def pull_all(source):
    return RemoteOfflineStore.pull_all_from_table_or_query(
        config=store.config, data_source=source, join_key_columns=["driver_id"],
        feature_name_columns=["conv_rate"], timestamp_field="event_timestamp",
        created_timestamp_column="created", start_date=start.to_pydatetime(),
        end_date=end.to_pydatetime()).to_arrow()
pull_all(store.get_data_source("driver_hourly_stats_source")).to_pandas() \\
    .to_parquet(out_dir / "client_pull_all.parquet")

store.materialize(start_date=start.to_pydatetime(), end_date=end.to_pydatetime(),
                  feature_views=["driver_hourly_stats"])
online = store.get_online_features(features=["driver_hourly_stats:conv_rate"],
                                   entity_rows=[{"driver_id": d} for d in (1001, 1002, 1003)])
written = pd.read_parquet("data/driver_stats.parquet").tail(1).reset_index(drop=True)
written["driver_id"], written["conv_rate"] = 1001, 0.25
written["event_timestamp"] = written["created"] = end
store.write_to_offline_store("driver_hourly_stats", written)
out = {"online": online.to_dict()}
for name, call in (
        ("missing_source", lambda: pull_all(FileSource(name="nope", path="x.parquet",
                                                       timestamp_field="event_timestamp"))),
        ("bad_token", lambda: FeatureStore(repo_path=".", fs_yaml_file=Path("bad_token.yaml"))
                              .get_historical_features(entity_df=entity_df, features=features).to_df())):
    try:
        call()
        out[name] = "no error"
    except Exception as error:
        out[name] = [type(error).__module__, type(error).__name__, str(error)]
(out_dir / "client.json").write_text(json.dumps(out, sort_keys=True))
"""


def remote_offline_yaml(project: str, port: int, token: str) -> str:
    return (f"project: {project}\nregistry: data/registry.db\nprovider: local\n"
            f"online_store:\n  type: sqlite\n  path: data/online_store.db\n"
            f"offline_store:\n  type: remote\n  host: 127.0.0.1\n  port: {port}\n"
            f"entity_key_serialization_version: 3\n"
            f"auth:\n  type: kubernetes\n  user_token: {token}\n")


def test_a_feast_client_gets_training_data_from_headwater_serve_offline(tmp_path, feast_python,
                                                                        feast_template):
    """Feast 0.67's SDK with `offline_store: type: remote` against `headwater serve-offline`
    (Arrow Flight, bearer token): training data equal to `headwater get-historical-features`,
    pulls and an offline write equal to what the Parquet file says."""
    import hashlib
    import socket
    import time
    feast_bin = feast_python.parent
    source = pq.read_table(feast_template / "data" / "driver_stats.parquet").to_pandas()
    newest = source["event_timestamp"].max()
    start, end = newest - timedelta(days=2), newest
    entities = pd.DataFrame({
        "driver_id": [1001, 1002, 1003, 1001, 1005],
        "event_timestamp": [newest - timedelta(hours=h) for h in (1, 5, 30, 50, 2)],
        "val_to_add": [1, 2, 3, 4, 5], "val_to_add_2": [10, 20, 30, 40, 50]})
    entities.to_parquet(tmp_path / "entities.parquet")
    (tmp_path / "client.py").write_text(OFFLINE_CLIENT)

    def run(args, cwd):
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    token = "offline-reader-and-writer"
    served = tmp_path / "served"
    shutil.copytree(feast_template, served)
    config = (served / "feature_store.yaml").read_text().replace(
        "auth:\n    type: no_auth\n",
        "auth:\n  tokens:\n    - {name: feast_client, sha256: "
        f"{hashlib.sha256(token.encode()).hexdigest()}, scopes: [read_offline, write_offline]}}\n")
    (served / "feature_store.yaml").write_text(config)
    run([HEADWATER, "apply"], served)
    features = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate",
                "driver_hourly_stats:avg_daily_trips", "transformed_conv_rate:conv_rate_plus_val1"]
    run([HEADWATER, "get-historical-features", "--entities", tmp_path / "entities.parquet",
         "--features", ",".join(features), "--output", tmp_path / "ours.parquet"], served)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([HEADWATER, "-c", served, "serve-offline", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        client = tmp_path / "client"
        shutil.copytree(feast_template, client)
        project = (feast_template / "feature_store.yaml").read_text().split()[1]
        for name, key in (("feature_store.yaml", token), ("bad_token.yaml", "wrong")):
            (client / name).write_text(remote_offline_yaml(project, port, key))
        run([feast_bin / "feast", "apply"], client)
        run([feast_python, tmp_path / "client.py", tmp_path, start.isoformat(), end.isoformat()],
            client)
    finally:
        server.terminate()
        assert server.wait(timeout=10) == 0, server.stderr.read()

    # Training data: the values headwater get-historical-features gives, row for row.
    ours = pq.read_table(tmp_path / "ours.parquet").to_pandas()
    theirs = pd.read_parquet(tmp_path / "client_training.parquet")
    assert len(theirs) == 5 and theirs["conv_rate"].notna().sum() >= 4
    for column in ["driver_id", "val_to_add"] + [f.split(":")[1] for f in features]:
        assert theirs[column].tolist() == ours[column].tolist() or \
            np.allclose(theirs[column], ours[column], equal_nan=True), column
    # Every row in the range, and each driver's latest row, as the file has them.
    in_range = source[(source["event_timestamp"] >= start) & (source["event_timestamp"] <= end)]
    pulled = pd.read_parquet(tmp_path / "client_pull_all.parquet")
    assert len(pulled) == len(in_range) > 0
    assert sorted(pulled["conv_rate"].round(6)) == sorted(in_range["conv_rate"].round(6))
    got = json.loads((tmp_path / "client.json").read_text())
    latest = in_range.sort_values(["event_timestamp", "created"]).groupby("driver_id").last()
    assert got["online"]["conv_rate"] == pytest.approx(
        [float(np.float32(latest.loc[d, "conv_rate"])) for d in (1001, 1002, 1003)])
    # The offline write landed in the served repository's file.
    written = pq.read_table(served / "data" / "driver_stats.parquet").to_pandas()
    assert len(written) == len(source) + 1
    assert written[written["conv_rate"] == 0.25]["driver_id"].tolist() == [1001]
    assert got["missing_source"][:2] == ["feast.errors", "FeastObjectNotFoundException"]
    assert "unknown data source 'nope'" in got["missing_source"][2]
    assert got["bad_token"][:2] == ["feast.errors", "FeastPermissionError"]
