"""Python definition files: `headwater apply` loads them, and they make the same registry as
the YAML that says the same thing; errors name the Python file and line."""
import json
import re
import shutil
import sys
import textwrap
from datetime import datetime, timedelta, timezone

import pandas as pd

import pytest

import headwater
from headwater import Aggregation, Entity, FeatureView, Field, FileSource, PushSource, ValueType
from headwater.types import Array, Float32, Int64

from sdk_helpers import HEADWATER, run

YAML = """\
entities:
  - {name: driver, join_keys: [driver_id], value_type: INT64, description: A driver, tags: {team: rides}}
sources:
  - name: driver_stats_source
    path: data/driver_stats
    timestamp_field: event_timestamp
    created_timestamp_column: created
  - {name: driver_push, type: push, batch_source: driver_stats_source, watermark_delay: 5s}
  - name: driver_kafka
    type: kafka
    bootstrap_servers: localhost:9092
    topic: driver_events
    batch_source: driver_stats_source
feature_views:
  - name: driver_hourly_stats
    entities: [driver]
    ttl: 1d
    source: driver_stats_source
    schema:
      - {name: conv_rate, dtype: Float32}
      - {name: avg_daily_trips, dtype: Int64}
    tags: {team: driver_performance}
    owner: ml@example.com
  - name: driver_windows
    entities: [driver]
    ttl: 2h
    source: driver_push
    schema:
      - {name: conv_rate, dtype: Float32}
    aggregations:
      - {column: conv_rate, function: mean, time_window: 1h, slide_interval: 10m}
      - {column: conv_rate, function: count, time_window: 30m, name: rows_30m}
    allowed_lateness: 1m
feature_services:
  - name: driver_activity
    features:
      - driver_hourly_stats: [conv_rate]
      - driver_windows
"""

PYTHON = """\
from datetime import datetime, timedelta, timezone

import pandas as pd

from headwater import (Aggregation, Entity, FeatureService, FeatureView, Field, FileSource,
                       KafkaSource, PushSource, ValueType)
from headwater.types import Float32, Int64

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64,
                description="A driver", tags={"team": "rides"})
driver_stats_source = FileSource(name="driver_stats_source", path="data/driver_stats",
                                 timestamp_field="event_timestamp", created_timestamp_column="created")
driver_push = PushSource(name="driver_push", batch_source=driver_stats_source,
                         watermark_delay=timedelta(seconds=5))
driver_kafka = KafkaSource(name="driver_kafka", kafka_bootstrap_servers="localhost:9092",
                           topic="driver_events", batch_source=driver_stats_source)
driver_hourly_stats = FeatureView(
    name="driver_hourly_stats", entities=[driver], ttl=timedelta(days=1),
    source=driver_stats_source,
    schema=[Field(name="conv_rate", dtype=Float32), Field(name="avg_daily_trips", dtype=Int64)],
    tags={"team": "driver_performance"}, owner="ml@example.com")
driver_windows = FeatureView(
    name="driver_windows", entities=[driver], ttl=timedelta(hours=2), source=driver_push,
    schema=[Field(name="conv_rate", dtype=Float32)],
    aggregations=[
        Aggregation(column="conv_rate", function="mean", time_window=timedelta(hours=1),
                    slide_interval=timedelta(minutes=10)),
        Aggregation(column="conv_rate", function="count", time_window=timedelta(minutes=30),
                    name="rows_30m"),
    ],
    allowed_lateness=timedelta(minutes=1))
driver_activity = FeatureService(name="driver_activity",
                                 features=[driver_hourly_stats[["conv_rate"]], driver_windows])
"""


def registry_of(repo):
    """The registry's definitions, without when and where (file and line) they were applied."""
    dump = json.loads(run([HEADWATER, "registry-dump"], cwd=repo).stdout)
    dump.pop("last_updated")
    for objects in dump.values():
        for item in objects if isinstance(objects, list) else []:
            item.pop("location", None)
    return dump


def test_yaml_and_python_definitions_make_identical_registries(driver_repo, tmp_path):
    for name in ("example_repo.py", "test_workflow.py"):
        (driver_repo / name).unlink()
    python_repo = tmp_path / "python_repo"
    shutil.copytree(driver_repo, python_repo)
    (driver_repo / "definitions.yaml").write_text(YAML)
    (python_repo / "definitions.py").write_text(PYTHON)
    run([HEADWATER, "apply"], cwd=driver_repo)
    applied = run([HEADWATER, "apply"], cwd=python_repo)
    assert "Registry version 1" in applied.stdout
    yaml_registry, python_registry = registry_of(driver_repo), registry_of(python_repo)
    assert yaml_registry == python_registry
    assert len(python_registry["feature_views"]) == 2
    assert len(python_registry["sources"]) == 3
    # Applying the YAML form over the Python form changes nothing.
    (python_repo / "definitions.py").unlink()
    (python_repo / "definitions.yaml").write_text(YAML)
    assert "No changes" in run([HEADWATER, "apply"], cwd=python_repo).stdout


def python_objects():
    """The objects PYTHON defines, and its namespace."""
    namespace = {}
    exec(PYTHON, namespace)
    return namespace, [v for v in namespace.values()
                       if isinstance(v, (headwater.Entity, headwater.DataSource,
                                         headwater.FeatureView, headwater.FeatureService))]


def test_feature_store_apply_of_objects_matches_the_yaml(driver_repo, tmp_path):
    for name in ("example_repo.py", "test_workflow.py"):
        (driver_repo / name).unlink()
    yaml_repo = tmp_path / "yaml_repo"
    shutil.copytree(driver_repo, yaml_repo)
    (yaml_repo / "definitions.yaml").write_text(YAML)
    run([HEADWATER, "apply"], cwd=yaml_repo)
    namespace, objects = python_objects()
    store = headwater.FeatureStore(driver_repo)
    store.apply(objects)
    assert registry_of(yaml_repo) == registry_of(driver_repo)
    assert "No changes" in store.plan(objects)


def test_the_package_entry_point_applies_python_files(driver_repo):
    entry_point = shutil.which("headwater", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert entry_point is not None
    result = run([entry_point, "apply"], cwd=driver_repo)
    assert "driver_hourly_stats_fresh" in result.stdout
    plan = run([entry_point, "plan"], cwd=driver_repo)
    assert "No changes" in plan.stdout


def test_python_errors_name_the_file_and_line(driver_repo):
    (driver_repo / "broken.py").write_text("from headwater import Entity\n\nx = 1\nraise RuntimeError('no network here')\n")
    result = run([HEADWATER, "apply"], cwd=driver_repo, ok=False)
    assert "broken.py:4: RuntimeError: no network here" in result.stderr
    (driver_repo / "broken.py").write_text("def f(:\n")
    result = run([HEADWATER, "apply"], cwd=driver_repo, ok=False)
    assert "broken.py:1: SyntaxError" in result.stderr
    # A constructor check: the wrong type for dtype.
    (driver_repo / "broken.py").write_text(
        "from headwater import Field\n\nf = Field(name='x', dtype='Float32')\n")
    result = run([HEADWATER, "apply"], cwd=driver_repo, ok=False)
    assert "broken.py:3: TypeError: Field 'x': dtype must be a type from headwater.types" in result.stderr
    # Nothing was applied by any of the failures.
    assert not (driver_repo / "data" / "registry.json").exists()


def test_validation_errors_point_into_the_python_file(driver_repo):
    text = (driver_repo / "example_repo.py").read_text()
    bad = text.replace('Field(name="acc_rate", dtype=Float32),\n        Field(name="avg_daily_trips", dtype=Int64, description="Average daily trips")',
                       'Field(name="acc_rate", dtype=Float32),\n        Field(name="avg_daily_trips", dtype=String, description="Average daily trips")')
    bad = bad.replace("from headwater.types import Float32, Float64, Int64",
                      "from headwater.types import Float32, Float64, Int64, String")
    assert bad != text
    (driver_repo / "example_repo.py").write_text(bad)
    line = bad.splitlines().index('driver_stats_fv = FeatureView(') + 1
    result = run([HEADWATER, "apply"], cwd=driver_repo, ok=False)
    assert f"example_repo.py:{line}: feature_view 'driver_hourly_stats'" in result.stderr
    assert "avg_daily_trips" in result.stderr and "declared String" in result.stderr


def test_the_name_rule_points_into_the_python_file(driver_repo):
    text = (driver_repo / "example_repo.py").read_text()
    bad = text.replace('name="driver_hourly_stats",', 'name="../escape",', 1)
    assert bad != text
    (driver_repo / "example_repo.py").write_text(bad)
    line = bad.splitlines().index('driver_stats_fv = FeatureView(') + 1
    result = run([HEADWATER, "apply"], cwd=driver_repo, ok=False)
    assert f"example_repo.py:{line}: feature_view: name '../escape' must be" in result.stderr
    assert not (driver_repo / "data" / "registry.json").exists()


def test_python_files_print_to_stderr_not_into_the_definitions(driver_repo):
    (driver_repo / "noisy.py").write_text("print('hello from a definition file')\n")
    result = run([HEADWATER, "apply"], cwd=driver_repo)
    assert "hello from a definition file" in result.stderr


@pytest.mark.parametrize("make, message", [
    (lambda: Entity(name=""), "Entity needs a non-empty name"),
    (lambda: Entity(name="d", join_keys="driver_id"), "join_keys must be a list of str"),
    (lambda: Entity(name="d", value_type="INT64"), "value_type must be a ValueType"),
    (lambda: FeatureView(name="v", source="s", ttl=5), "ttl must be a datetime.timedelta"),
    (lambda: FeatureView(name="v", source="s", ttl=timedelta(seconds=-1)), "must not be negative"),
    (lambda: FeatureView(name="v", source=3), "source must be a source object or its name"),
    (lambda: FeatureView(name="v", source="s", schema=["x"]), "schema must be a list of Field"),
    (lambda: Array("Int64"), "Array() takes a primitive type"),
    (lambda: PushSource(name="p", batch_source=None), None),
    (lambda: Aggregation(column="c", function="sum", time_window=60), "time_window must be a datetime.timedelta"),
])
def test_constructors_reject_wrong_types(make, message):
    if message is None:
        push = make()  # accepted here; the core rejects the missing batch source at apply
        with pytest.raises(TypeError):
            push.to_definition()
        return
    with pytest.raises((TypeError, ValueError), match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_registry_round_trip_of_objects(driver_repo):
    store = headwater.FeatureStore(driver_repo)
    run([HEADWATER, "apply"], cwd=driver_repo)
    view = store.get_feature_view("driver_hourly_stats")
    assert view.ttl == timedelta(days=1)
    assert [(f.name, f.dtype) for f in view.schema] == [("conv_rate", Float32), ("acc_rate", Float32),
                                                        ("avg_daily_trips", Int64)]
    assert view.entities == ["driver"] and view.tags == {"team": "driver_performance"}
    assert sorted(v.name for v in store.list_feature_views()) == ["driver_hourly_stats",
                                                                   "driver_hourly_stats_fresh"]
    assert store.get_entity("driver").join_keys == ["driver_id"]
    assert store.get_entity("driver").value_type == ValueType.INT64
    assert isinstance(store.get_data_source("driver_stats_push_source"), PushSource)
    service = store.get_feature_service("driver_activity_v1")
    assert [(p.name, p.features) for p in service.features] == [("driver_hourly_stats", ["conv_rate"]),
                                                                ("transformed_conv_rate", [])]
    odfv = store.get_on_demand_feature_view("transformed_conv_rate")
    # Its pandas function is column arithmetic: stored as expressions, computed by the server.
    assert odfv.mode == "expression" and odfv.expressions == {
        "conv_rate_plus_val1": "conv_rate + val_to_add",
        "conv_rate_plus_val2": "conv_rate + val_to_add_2"}
    with pytest.raises(headwater.NotFoundError, match="unknown feature view 'nope'"):
        store.get_feature_view("nope")


def test_apply_removes_objects_to_delete_and_refuses_dangling_ones(driver_repo):
    for name in ("example_repo.py", "test_workflow.py"):
        (driver_repo / name).unlink()
    namespace, objects = python_objects()
    store = headwater.FeatureStore(driver_repo)
    store.apply(objects)
    windows, service = namespace["driver_windows"], namespace["driver_activity"]
    # driver_activity still reads driver_windows: refused, naming it, and nothing changes.
    with pytest.raises(headwater.InvalidInputError, match="driver_windows"):
        store.apply([], objects_to_delete=[windows])
    assert len(store.list_feature_views()) == 2
    # The service and the view together: both gone, the rest kept.
    store.apply([], objects_to_delete=[service, windows])
    assert [v.name for v in store.list_feature_views()] == ["driver_hourly_stats"]
    assert store.list_feature_services() == []
    assert len(store.list_entities()) == 1
    with pytest.raises(headwater.NotFoundError, match="not applied"):
        store.apply([], objects_to_delete=[windows])


def test_request_sources_and_on_demand_views_apply_from_python(driver_repo):
    """Feast's quickstart on-demand view, written with Headwater's expression mode (issue 14):
    applied with the feature view it reads, stored, and its errors raised before anything
    changes."""
    from headwater import OnDemandFeatureView, RequestSource
    from headwater.types import Float64
    store = headwater.FeatureStore(driver_repo)
    run([HEADWATER, "apply"], cwd=driver_repo)
    stats = store.get_feature_view("driver_hourly_stats")
    vals = RequestSource(name="expr_vals", schema=[Field(name="val_to_add", dtype=Int64)])

    def view(expression):
        return OnDemandFeatureView(name="expr_view", sources=[stats, vals],
                                   schema=[Field(name="conv_rate_plus_val1", dtype=Float64)],
                                   expressions={"conv_rate_plus_val1": expression})

    with pytest.raises(headwater.InvalidInputError,
                       match=r"feature 'conv_rate_plus_val1': at column 11 \('\+'\): '\+' takes "
                             r"numbers, not String"):
        store.apply([vals, view("conv_rate + 'x'")])
    store.apply([vals, view("conv_rate + val_to_add")])
    dump = json.loads(run([HEADWATER, "registry-dump"], cwd=driver_repo).stdout)
    [stored] = [v for v in dump["on_demand_feature_views"] if v["name"] == "expr_view"]
    assert stored["expressions"] == {"conv_rate_plus_val1": "conv_rate + val_to_add"}
    assert [s for s in dump["sources"] if s["name"] == "expr_vals"][0]["type"] == "request"
    [listed] = [v for v in store.list_on_demand_feature_views() if v.name == "expr_view"]
    assert listed.sources[1].name == "expr_vals"
    assert store.get_data_source("expr_vals").schema == [Field(name="val_to_add", dtype=Int64)]
    store.apply([], objects_to_delete=[listed])
    assert "expr_view" not in [v.name for v in store.list_on_demand_feature_views()]
    # Read online (request values with the entity rows, as Feast's quickstart) and in
    # training data (request values as entity columns): the same values.
    store.apply([vals, view("conv_rate + val_to_add")])
    store.materialize_incremental(end_date=datetime.now(timezone.utc))
    refs = ["expr_view:conv_rate_plus_val1", "driver_hourly_stats:conv_rate"]
    rows = [{"driver_id": 1001, "val_to_add": 1000}, {"driver_id": 1002, "val_to_add": 1001},
            {"driver_id": 1003, "val_to_add": None}]
    got = store.get_online_features(refs, rows).to_dict()
    assert "val_to_add" not in got and got["driver_id"] == [1001, 1002, 1003]
    assert got["conv_rate_plus_val1"][:2] == [pytest.approx(got["conv_rate"][0] + 1000, abs=0),
                                              pytest.approx(got["conv_rate"][1] + 1001, abs=0)]
    assert got["conv_rate_plus_val1"][2] is None
    frame = store.get_online_features(refs, {"driver_id": [1001], "val_to_add": [1000]}).to_df()
    assert frame["conv_rate_plus_val1"][0] == got["conv_rate_plus_val1"][0]
    with pytest.raises(headwater.InvalidInputError, match="needs the request value 'val_to_add'"):
        store.get_online_features(refs, [{"driver_id": 1001}])
    entity_df = pd.DataFrame({"driver_id": [1001, 1002],
                              "event_timestamp": [datetime.now(timezone.utc)] * 2,
                              "val_to_add": [1000, 1001]})
    training = store.get_historical_features(entity_df, refs).to_df()
    assert training["conv_rate_plus_val1"].tolist() == got["conv_rate_plus_val1"][:2]
    store.apply([], objects_to_delete=[store.get_on_demand_feature_view("expr_view")])
    with pytest.raises(ValueError, match="mode 'pandas' takes a udf"):
        OnDemandFeatureView(name="p", sources=[stats], schema=[], expressions={}, mode="pandas")
    with pytest.raises(ValueError, match="mode 'sql' is not supported"):
        OnDemandFeatureView(name="p", sources=[stats], schema=[], expressions={}, mode="sql")


UDF_VIEWS = """
on_demand_feature_views:
  - name: by_udf
    sources: [driver_hourly_stats, {vals_to_add: [val_to_add]}]
    schema: [{name: plus, dtype: Float64}, {name: label, dtype: String}]
    mode: {mode}
    udf: |
{udf}
"""


def udf_repo(driver_repo, mode, body):
    """The driver repository with a Python-function view written in YAML (the text as the
    registry keeps it: run with pandas as pd and numpy as np)."""
    (driver_repo / "udf.yaml").write_text(  # vals_to_add: the quickstart's request source
        UDF_VIEWS.replace("{mode}", mode).replace("{udf}", textwrap.indent(textwrap.dedent(body), "      ")))
    run([HEADWATER, "apply"], cwd=driver_repo)
    run([HEADWATER, "materialize-incremental", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")],
        cwd=driver_repo)
    return headwater.FeatureStore(driver_repo)


@pytest.mark.parametrize("mode,body", [
    ("pandas", """
        def f(inputs):
            out = pd.DataFrame()
            out["plus"] = inputs["conv_rate"] + inputs["val_to_add"]
            out["label"] = "d" + inputs["driver_id"].astype(str)
            return out
        """),
    ("python", """
        def f(inputs):
            return {"plus": [None if c is None else c + v
                             for c, v in zip(inputs["driver_hourly_stats__conv_rate"], inputs["val_to_add"])],
                    "label": ["d" + str(d) for d in inputs["driver_id"]]}
        """)])
def test_python_function_views_online_and_offline(driver_repo, mode, body):
    """Feast's pandas and python modes, stored as text and run by the SDK: online and training
    data agree with the stored inputs; the CLI says where they run."""
    store = udf_repo(driver_repo, mode, body)
    refs = ["by_udf:plus", "by_udf:label", "driver_hourly_stats:conv_rate"]
    got = store.get_online_features(refs, [{"driver_id": 1001, "val_to_add": 10},
                                           {"driver_id": 9, "val_to_add": 1}]).to_dict()
    assert got["plus"] == [got["conv_rate"][0] + 10, None]
    assert got["label"] == ["d1001", "d9"]
    named = store.get_online_features(refs, {"driver_id": [1001], "val_to_add": [10]},
                                      full_feature_names=True).to_dict()
    assert named["by_udf__plus"] == got["plus"][:1]
    entity_df = pd.DataFrame({"driver_id": [1001], "val_to_add": [10],
                              "event_timestamp": [datetime.now(timezone.utc)]})
    training = store.get_historical_features(entity_df, refs).to_df()
    assert training["plus"].tolist() == got["plus"][:1]
    err = run([HEADWATER, "get-online-features", "--features", "by_udf:plus", "--entities",
               '{"driver_id": [1001], "val_to_add": [1]}'], cwd=driver_repo, ok=False).stderr
    assert "runs a Python function (mode " + mode + "): read it through the Python SDK" in err
    # Training data from the CLI says the same (it crashed before on a view with no expressions).
    entity_df.to_parquet(driver_repo / "rows.parquet")
    failed = run([HEADWATER, "get-historical-features", "--entities", "rows.parquet", "--features",
                  "by_udf:plus", "--output", "out.parquet"], cwd=driver_repo, ok=False)
    assert failed.returncode == 1
    assert "runs a Python function (mode " + mode + "): read it through the Python SDK" in \
        failed.stderr
    with pytest.raises(headwater.InvalidInputError, match="needs the request value 'val_to_add'"):
        store.get_online_features(refs, [{"driver_id": 1001}])


@pytest.mark.parametrize("body,message", [
    ("def f(inputs):\n    raise KeyError('boom')\n", "its udf raised KeyError: 'boom'"),
    ("def f(inputs):\n    return pd.DataFrame({'plus': [1.0]})\n", "its udf returned no 'label'"),
    ("def f(inputs):\n    return pd.DataFrame({'plus': ['x'], 'label': ['y']})\n",
     "its udf's 'plus' is not Float64"),
    ("def f(inputs):\n    return pd.DataFrame({'plus': [1.0, 2.0], 'label': ['a', 'b']})\n",
     "returned 2 values of 'plus' for 1 rows"),
    ("def f(inputs):\n    return 7\n", "returned int, not a pandas DataFrame"),
    ("def f(inputs) oops\n", "its udf does not load: SyntaxError"),
])
def test_python_functions_that_fail_give_errors_naming_the_view(driver_repo, body, message):
    store = udf_repo(driver_repo, "pandas", body)
    with pytest.raises(headwater.InvalidInputError, match=r"on-demand feature view 'by_udf'.*" + re.escape(message)):
        store.get_online_features(["by_udf:plus"], [{"driver_id": 1001, "val_to_add": 1}])


def test_substrait_views_compiled_from_ibis_run_in_cpp_everywhere(driver_repo):
    """Feast's substrait mode: an Ibis function compiled to a Substrait plan at definition, run
    by Arrow's Substrait consumer in C++: the SDK, the CLI and training data give the same
    values, and a plan that reads something the view has not is refused at apply."""
    import ibis  # noqa: F401 - the decorated function builds an Ibis expression
    from headwater import RequestSource, on_demand_feature_view
    from headwater.types import Float64
    store = headwater.FeatureStore(driver_repo)
    run([HEADWATER, "apply"], cwd=driver_repo)
    stats = store.get_feature_view("driver_hourly_stats")
    vals = RequestSource(name="ibis_vals", schema=[Field(name="val_to_add", dtype=Int64)])

    @on_demand_feature_view(sources=[stats, vals], mode="substrait",
                            schema=[Field(name="conv_rate_plus_val1", dtype=Float64),
                                    Field(name="acc_over_conv", dtype=Float64)])
    def by_ibis(inputs):
        return inputs.mutate(conv_rate_plus_val1=inputs.conv_rate + inputs.val_to_add,
                             acc_over_conv=inputs.acc_rate / inputs.conv_rate)

    assert by_ibis.mode == "substrait" and len(by_ibis.substrait_plan) > 100
    store.apply([vals, by_ibis])
    [listed] = [v for v in store.list_on_demand_feature_views() if v.name == "by_ibis"]
    assert listed.substrait_plan == by_ibis.substrait_plan
    store.materialize_incremental(end_date=datetime.now(timezone.utc))
    refs = ["by_ibis:conv_rate_plus_val1", "by_ibis:acc_over_conv",
            "driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate"]
    got = store.get_online_features(refs, [{"driver_id": 1001, "val_to_add": 1000},
                                           {"driver_id": 9, "val_to_add": 1},
                                           {"driver_id": 1002, "val_to_add": None}]).to_dict()
    conv, acc = got["conv_rate"][0], got["acc_rate"][0]
    assert got["conv_rate_plus_val1"][:2] == [pytest.approx(conv + 1000, rel=1e-6), None]
    assert got["acc_over_conv"][0] == pytest.approx(acc / conv, rel=1e-6)
    assert got["conv_rate_plus_val1"][2] is None
    cli = json.loads(run([HEADWATER, "get-online-features", "--features", ",".join(refs[:2]),
                          "--entities", '{"driver_id": [1001], "val_to_add": [1000]}'],
                         cwd=driver_repo).stdout)
    assert json.dumps(got["conv_rate_plus_val1"][0]) in json.dumps(cli)
    entity_df = pd.DataFrame({"driver_id": [1001], "val_to_add": [1000],
                              "event_timestamp": [datetime.now(timezone.utc)]})
    training = store.get_historical_features(entity_df, refs).to_df()
    assert training["conv_rate_plus_val1"].tolist() == got["conv_rate_plus_val1"][:1]
    assert training["acc_over_conv"].tolist() == got["acc_over_conv"][:1]

    @on_demand_feature_view(sources=[stats], mode="substrait",
                            schema=[Field(name="doubled", dtype=Float64)])
    def wrong_input(inputs):
        return inputs.mutate(doubled=inputs.conv_rate * 2)

    # A plan naming an input the view does not have (Feast's quickstart would read val_to_add).
    wrong_input.sources = [stats[["acc_rate"]]]
    with pytest.raises(headwater.InvalidInputError,
                       match=r"on_demand_feature_view 'wrong_input': its Substrait plan reads a "
                             r"column 'conv_rate', which is not an input of the view"):
        store.apply([wrong_input])
    with pytest.raises(ValueError, match="its Ibis function does not compile"):
        on_demand_feature_view(sources=[stats], mode="substrait",
                               schema=[Field(name="x", dtype=Float64)])(
            lambda inputs: inputs.mutate(x=inputs.no_such_column))


# Feast's classes and decorators (issue 16): what they make, and what they refuse.

def test_feast_view_classes_make_plain_views():
    from headwater.definitions import (BatchFeatureView, ConflictPolicy, LabelView,
                                       StreamFeatureView, stream_feature_view)
    from headwater.types import Json, Map, String, Struct
    driver = Entity(name="driver", join_keys=["driver_id"])
    assert "value_type" not in driver.to_definition()  # read from the data at apply
    source = FileSource(path="data/x.parquet", event_timestamp_column="ts")
    assert (source.name, source.timestamp_field) == ("data_x_parquet", "ts")
    view = BatchFeatureView(name="b", entities=[driver], source=source, udf=lambda df: df,
                            schema=[Field(name="driver_id", dtype=Int64),
                                    Field(name="doc", dtype=Struct({"a": String})),
                                    Field(name="m", dtype=Map)])
    assert view.to_definition()["schema"] == [{"name": "doc", "dtype": "Json"},
                                              {"name": "m", "dtype": "Json"}]
    assert Map == Json

    @stream_feature_view(entities=[driver], source=source, schema=[Field(name="x", dtype=Int64)])
    def fresh(df):
        """Identity, as Feast's examples write it when nothing is transformed."""
        return df
    assert isinstance(fresh, StreamFeatureView) and fresh.name == "fresh"
    with pytest.raises(ValueError, match="its udf transforms the source's rows"):
        BatchFeatureView(name="t", entities=[driver], source=source, udf=lambda df: df.head())
    labels = LabelView(name="labels", entities=[driver], source=source,
                       schema=[Field(name="label", dtype=Int64)])
    assert labels.to_definition()["schema"] == [{"name": "label", "dtype": "Int64"}]
    with pytest.raises(ValueError, match="last-write-wins"):
        LabelView(name="l2", entities=[driver], source=source,
                  conflict_policy=ConflictPolicy.MAJORITY_VOTE)
    with pytest.raises(ValueError, match="a view over other feature views"):
        FeatureView(name="derived", source=view, entities=[driver])


@pytest.mark.parametrize("body, expressions", [
    ("""
     df = pd.DataFrame()
     df["a"] = inputs["x"] * 2 - -inputs["y"]
     df["b"] = 1.5 + inputs["x"]
     return df""", {"a": "(x * 2) - (-y)", "b": "1.5 + x"}),
    ("""
     \"\"\"Doc.\"\"\"
     out = pandas.DataFrame()
     out["b"] = inputs["y"]
     out["a"] = (inputs["x"] + inputs["y"]) * inputs["x"]
     return out""", {"a": "(x + y) * x", "b": "y"}),
    # Anything else stays a Python function.
    ("""
     df = pd.DataFrame()
     df["a"] = inputs["x"] / inputs["y"]
     df["b"] = inputs["x"]
     return df""", None),
    ("""
     df = pd.DataFrame()
     df["a"] = inputs["x"].abs()
     df["b"] = inputs["x"]
     return df""", None),
    ("""
     df = pd.DataFrame()
     df["a"] = inputs["x"]
     return df""", None),  # b is not computed
    ("""
     df = pd.DataFrame()
     df["a"] = inputs["view__x"]
     df["b"] = inputs["x"]
     return df""", None),
    ("""
     df = pd.DataFrame(inputs)
     df["a"] = inputs["x"]
     df["b"] = inputs["x"]
     return df""", None),
    ("""
     df = pd.DataFrame()
     df["a"] = inputs["x"]
     df["b"] = inputs["x"]
     return inputs""", None),
])
def test_pandas_column_arithmetic_becomes_expressions(body, expressions):
    from headwater.definitions import _pandas_udf_as_expressions
    source = "def f(inputs):" + textwrap.indent(textwrap.dedent(body), "    ") + "\n"
    assert _pandas_udf_as_expressions(source, ["a", "b"]) == expressions


def test_a_file_source_on_s3_keeps_its_endpoint_and_refuses_a_connection_ref():
    """Feast's FileSource on S3 (issue 19): the endpoint goes into the definition and back."""
    from headwater.definitions import from_registry
    source = FileSource(name="trips", path="s3://lake/trips", timestamp_field="ts",
                        s3_endpoint_override="http://127.0.0.1:9000")
    definition = source.to_definition()
    assert (definition["path"], definition["s3_endpoint_override"]) == \
        ("s3://lake/trips", "http://127.0.0.1:9000")
    assert "s3_endpoint_override" not in FileSource(path="data/x", timestamp_field="ts").to_definition()
    again = from_registry("sources", {**definition, "type": "file"})
    assert again.s3_endpoint_override == "http://127.0.0.1:9000"
    with pytest.raises(ValueError, match="connection_ref is not supported"):
        FileSource(path="s3://lake/x", timestamp_field="ts", connection_ref="my_s3")
