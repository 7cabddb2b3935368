"""init, apply, plan, registry-dump, teardown and -c, and their handling of bad input."""
import json
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def test_init_creates_a_repository_that_works_at_once(tmp_path, cli):
    out = cli("init", "my_repo").stdout
    repo = tmp_path / "my_repo"
    assert "Created feature repository" in out
    assert (repo / "feature_store.yaml").read_text().startswith("project: my_repo")
    stats = pq.read_table(repo / "data" / "driver_stats.parquet")
    assert stats.num_rows == 5 * 15 * 24
    assert set(stats.column_names) == {"event_timestamp", "driver_id", "conv_rate", "acc_rate",
                                       "avg_daily_trips", "created"}
    applied = cli("-c", "my_repo", "apply").stdout
    assert "+ feature_view driver_hourly_stats" in applied
    assert "Applied: 4 to add, 0 to change, 0 to delete." in applied


def test_init_refuses_existing_or_bad_names(tmp_path, cli):
    cli("init", "repo")
    assert "already exists" in cli("init", "repo", ok=False).stderr
    # The one name rule of every object (dashes are fine; paths and spaces are not).
    for bad in ["bad name", "../escape", "a/b", "-x"]:
        assert "letters, digits" in cli("init", "--", bad, ok=False).stderr
    assert not (tmp_path.parent / "escape").exists()
    cli("init", "good-name_2")


def test_plan_changes_nothing_and_apply_is_idempotent(driver_repo, cli):
    registry = driver_repo / "data" / "registry.json"
    before = registry.read_bytes()
    assert "No changes" in cli("plan", cwd=driver_repo).stdout
    assert "No changes" in cli("apply", cwd=driver_repo).stdout
    assert registry.read_bytes() == before

    definitions = driver_repo / "definitions.yaml"
    definitions.write_text(definitions.read_text().replace("ttl: 1d", "ttl: 2d"))
    plan = cli("plan", cwd=driver_repo).stdout
    assert "~ feature_view driver_hourly_stats (ttl)" in plan
    assert "Plan: 0 to add, 1 to change, 0 to delete." in plan
    assert registry.read_bytes() == before, "plan must not write"
    cli("apply", cwd=driver_repo)
    dump = json.loads(cli("registry-dump", cwd=driver_repo).stdout)
    assert dump["version"] == 2
    assert dump["feature_views"][0]["ttl"] == "2d"


def test_registry_dump_is_json_of_the_applied_definitions(driver_repo, cli):
    dump = json.loads(cli("registry-dump", cwd=driver_repo).stdout)
    assert dump["project"] == "driver_repo"
    assert [e["name"] for e in dump["entities"]] == ["driver"]
    view = dump["feature_views"][0]
    assert [f["name"] for f in view["features"]] == ["conv_rate", "acc_rate", "avg_daily_trips"]
    assert dump["feature_services"][0]["name"] == "driver_activity"


def test_removed_definitions_are_deleted_on_apply(driver_repo, cli):
    definitions = driver_repo / "definitions.yaml"
    text = definitions.read_text()
    definitions.write_text(text[:text.index("feature_services:")])
    out = cli("apply", cwd=driver_repo).stdout
    assert "- feature_service driver_activity" in out
    dump = json.loads(cli("registry-dump", cwd=driver_repo).stdout)
    assert dump["feature_services"] == []


def test_a_failed_apply_leaves_the_previous_registry(driver_repo, cli):
    registry = driver_repo / "data" / "registry.json"
    before = registry.read_bytes()
    definitions = driver_repo / "definitions.yaml"
    definitions.write_text(definitions.read_text().replace("dtype: Float32", "dtype: String", 1))
    err = cli("apply", cwd=driver_repo, ok=False).stderr
    assert "definitions.yaml:" in err
    assert "declared String but column 'conv_rate'" in err
    assert registry.read_bytes() == before


def test_numbers_declared_narrower_or_wider_are_cast_on_read(tmp_path, cli):
    """As Feast casts: Float32 over a float64 column, Int32 over int64, Float64 over int64 are
    accepted, said by plan, and read as the declared types offline and online; a value that does
    not fit is an error naming the column, and a string declared a number is still refused."""
    (tmp_path / "data").mkdir()
    (tmp_path / "feature_store.yaml").write_text("project: casts\n")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    pq.write_table(pa.table({
        "driver_id": pa.array([1, 2], pa.int64()),
        "ts": pa.array([now - timedelta(hours=1)] * 2, pa.timestamp("us", tz="UTC")),
        "rate": pa.array([0.1, 2.5], pa.float64()), "trips": pa.array([7, 8], pa.int64()),
        "count": pa.array([3, 4], pa.int64()), "name": ["a", "b"]}), tmp_path / "data" / "s.parquet")
    definitions = """
entities: [{name: driver, join_keys: [driver_id], value_type: INT64}]
sources: [{name: s, path: data/s.parquet, timestamp_field: ts}]
feature_views:
  - name: v
    entities: [driver]
    ttl: 0
    source: s
    schema:
      - {name: rate, dtype: Float32}
      - {name: trips, dtype: Int32}
      - {name: count, dtype: Float64}
"""
    (tmp_path / "defs.yaml").write_text(definitions)
    plan = cli("plan").stdout
    assert "feature_view 'v': feature 'rate' is Float32 over the double column 'rate' of " \
        "data/s.parquet: cast on read" in plan
    assert "feature 'trips' is Int32 over the int64 column" in plan
    cli("apply")
    pq.write_table(pa.table({"driver_id": [1, 2], "event_timestamp": pa.array(
        [now, now], pa.timestamp("us", tz="UTC"))}), tmp_path / "rows.parquet")
    cli("get-historical-features", "--entities", "rows.parquet", "--features",
        "v:rate,v:trips,v:count", "--output", "out.parquet")
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.schema.field("rate").type == pa.float32()
    assert out.schema.field("trips").type == pa.int32()
    assert out.schema.field("count").type == pa.float64()
    assert out["rate"].to_pylist() == [pytest.approx(0.1), 2.5]
    assert out["trips"].to_pylist() == [7, 8] and out["count"].to_pylist() == [3.0, 4.0]
    cli("materialize", (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    read = json.loads(cli("get-online-features", "--entities", '{"driver_id": [2]}', "--features",
                          "v:rate,v:trips").stdout)
    assert [r["values"][0] for r in read["results"][1:]] == [2.5, 8]
    # A value past Int32: an error naming the column when read.
    pq.write_table(pa.table({
        "driver_id": pa.array([3], pa.int64()),
        "ts": pa.array([now - timedelta(hours=1)], pa.timestamp("us", tz="UTC")),
        "rate": pa.array([0.5], pa.float64()), "trips": pa.array([2**40], pa.int64()),
        "count": pa.array([1], pa.int64()), "name": ["c"]}), tmp_path / "data" / "s.parquet")
    failed = cli("materialize", (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 now.strftime("%Y-%m-%dT%H:%M:%SZ"), ok=False)
    assert "column 'trips'" in failed.stderr, failed.stderr
    (tmp_path / "defs.yaml").write_text(definitions.replace("{name: count, dtype: Float64}",
                                                            "{name: name, dtype: Float64}"))
    assert "declared Float64 but column 'name'" in cli("plan", ok=False).stderr


def test_definition_errors_name_file_line_and_object(driver_repo, cli):
    (driver_repo / "more.yaml").write_text(
        "feature_views:\n  - name: broken\n    source: driver_stats_source\n    ttl: 1week\n")
    err = cli("apply", cwd=driver_repo, ok=False).stderr
    assert err.startswith("error: more.yaml:4: feature_view 'broken': ttl '1week' is not a duration")
    (driver_repo / "more.yaml").write_text("entities: [{name: driver}]\n")
    err = cli("apply", cwd=driver_repo, ok=False).stderr
    assert "entity 'driver': defined twice (first at definitions.yaml:" in err
    (driver_repo / "more.yaml").write_text("entities: [{name: x\n")
    assert "more.yaml:" in cli("plan", cwd=driver_repo, ok=False).stderr


def test_feature_store_yaml_errors(driver_repo, cli):
    config = driver_repo / "feature_store.yaml"
    config.write_text(config.read_text() + "bogus_key: 1\n")
    err = cli("apply", cwd=driver_repo, ok=False).stderr
    assert "unknown field 'bogus_key'" in err
    config.write_text("project: driver_repo\nregistry: ${HEADWATER_TEST_NOT_SET}\n")
    assert "'HEADWATER_TEST_NOT_SET' is not set" in cli("apply", cwd=driver_repo, ok=False).stderr


def test_environment_variables_are_substituted(driver_repo, cli, monkeypatch):
    config = driver_repo / "feature_store.yaml"
    config.write_text(config.read_text().replace("registry: data/registry.json",
                                                 "registry: ${HW_REGISTRY_DIR}/reg.json"))
    monkeypatch.setenv("HW_REGISTRY_DIR", "elsewhere")
    (driver_repo / "elsewhere").mkdir()
    cli("apply", cwd=driver_repo)
    assert (driver_repo / "elsewhere" / "reg.json").exists()


def test_teardown_removes_the_registry(driver_repo, cli):
    assert "Removed registry" in cli("teardown", cwd=driver_repo).stdout
    assert not (driver_repo / "data" / "registry.json").exists()
    assert "No registry" in cli("teardown", cwd=driver_repo).stdout


def test_commands_outside_a_repository_explain_what_to_do(tmp_path, cli):
    err = cli("apply", ok=False).stderr
    assert "no feature_store.yaml" in err and "headwater init" in err
    assert cli("-c", tmp_path / "nowhere", "plan", ok=False).returncode == 1


def test_usage_errors_exit_2(cli):
    assert cli("no-such-command", ok=False).returncode == 2
    assert cli("get-historical-features", "--entities", "x.csv", ok=False).returncode == 2
    assert cli(ok=False).returncode == 2
    result = cli("get-historical-features", "--entities", "e.csv", "--output", "o.csv", ok=False)
    assert result.returncode == 2 and "--features or --feature-service" in result.stderr


ON_DEMAND = """
sources:
  - name: vals_to_add
    type: request
    schema: [{name: val_to_add, dtype: Int64}, {name: val_to_add_2, dtype: Int64}]
on_demand_feature_views:
  - name: transformed_conv_rate
    sources: [driver_hourly_stats, vals_to_add]
    schema:
      - {name: conv_rate_plus_val1, dtype: Float64}
      - {name: conv_rate_plus_val2, dtype: Float64}
    expressions:
      conv_rate_plus_val1: conv_rate + val_to_add
      conv_rate_plus_val2: conv_rate + {second}
"""


def test_on_demand_views_apply_and_bad_expressions_name_file_line_view_feature_token(
        driver_repo, cli):
    """Feast's quickstart on-demand view (issue 14): its expressions are compiled at plan and
    apply; one that does not compile stops apply before anything changes."""
    (driver_repo / "on_demand.yaml").write_text(ON_DEMAND.replace("{second}", "val_to_ad"))
    err = cli("apply", cwd=driver_repo, ok=False).stderr
    assert err.startswith(
        "error: on_demand.yaml:14: on_demand_feature_view 'transformed_conv_rate', feature "
        "'conv_rate_plus_val2': at column 13 ('val_to_ad'): unknown input 'val_to_ad'"), err
    dump = json.loads(cli("registry-dump", cwd=driver_repo).stdout)
    assert "on_demand_feature_views" not in dump or not dump["on_demand_feature_views"]
    (driver_repo / "on_demand.yaml").write_text(ON_DEMAND.replace("{second}", "val_to_add_2"))
    assert "+ on_demand_feature_view transformed_conv_rate" in cli("plan", cwd=driver_repo).stdout
    cli("apply", cwd=driver_repo)
    dump = json.loads(cli("registry-dump", cwd=driver_repo).stdout)
    [view] = dump["on_demand_feature_views"]
    assert view["expressions"]["conv_rate_plus_val1"] == "conv_rate + val_to_add"
    assert [s["view"] for s in view["sources"]] == ["driver_hourly_stats", "vals_to_add"]
    # A feature view cannot read a request source; an on-demand view cannot read another.
    (driver_repo / "more.yaml").write_text(
        "on_demand_feature_views:\n  - name: twice\n    sources: [transformed_conv_rate]\n"
        "    schema: [{name: f, dtype: Float64}]\n    expressions: {f: conv_rate_plus_val1}\n")
    assert "on-demand views read feature views and request sources" in cli(
        "apply", cwd=driver_repo, ok=False).stderr


def test_batch_engine_flink_without_a_cluster_is_a_clear_error_that_changes_nothing(
        driver_repo, cli):
    """Feast's batch_engine section parses; without a cluster's address, or with one nobody
    answers at, materialize and training data fail naming the cause — never the embedded
    engine's answer in their place — and write nothing online, no output, no marker."""
    config = driver_repo / "feature_store.yaml"
    base = config.read_text()
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    runs = (["materialize-incremental", now],
            ["get-historical-features", "--entities", "data/driver_entities.csv",
             "--features", "driver_hourly_stats:conv_rate", "--output", "out.parquet"])
    for section, cause in (
            ("batch_engine:\n  type: flink.engine\n  parallelism: 2\n  pandas_split_num: 4\n",
             "batch_engine type flink needs rest_address and sql_gateway"),
            ("batch_engine:\n  type: flink\n  rest_address: http://127.0.0.1:9\n"
             "  sql_gateway: http://127.0.0.1:9\n", "is unreachable")):
        config.write_text(base + section)
        cli("apply", cwd=driver_repo)
        for args in runs:
            result = cli(*args, cwd=driver_repo, ok=False)
            assert result.returncode == 1
            assert cause in result.stderr, result.stderr
        assert not (driver_repo / "out.parquet").exists()
        read = cli("get-online-features", "--entities", '{"driver_id": [1001]}', "--features",
                   "driver_hourly_stats:conv_rate", cwd=driver_repo).stdout
        assert '"statuses":["NOT_FOUND"]' in read.replace(" ", "")
        assert json.loads(cli("registry-dump", cwd=driver_repo).stdout)["materializations"] == {}
    # --engine embedded overrides the configuration for one command.
    cli("materialize-incremental", now, "--engine", "embedded", cwd=driver_repo)
    assert json.loads(cli("registry-dump", cwd=driver_repo).stdout)["materializations"]


def test_feasts_listings_of_the_applied_registry(driver_repo, cli):
    """`feast feature-views list` and friends, with Feast's columns, --tags, --json, describe."""
    lines = cli("feature-views", "list", cwd=driver_repo).stdout.splitlines()
    assert lines[0].split() == ["NAME", "ENTITIES", "TYPE"]
    assert lines[1].split() == ["driver_hourly_stats", "driver", "FeatureView"]
    assert cli("entities", "list", cwd=driver_repo).stdout.splitlines()[0].split() == [
        "NAME", "DESCRIPTION", "TYPE"]
    sources = cli("data-sources", "list", cwd=driver_repo).stdout
    assert "driver_stats_source" in sources and "FileSource" in sources
    services = cli("feature-services", "list", cwd=driver_repo).stdout.splitlines()
    assert services[1].startswith("driver_activity") and "driver_hourly_stats:conv_rate" in services[1]
    assert cli("on-demand-feature-views", "list", cwd=driver_repo).stdout.strip() == "NAME"
    tagged = json.loads(cli("feature-views", "list", "--tags", "team:driver_performance", "--json",
                            cwd=driver_repo).stdout)
    assert [v["name"] for v in tagged] == ["driver_hourly_stats"]
    assert json.loads(cli("feature-views", "list", "--tags", "team:nobody", "--json",
                          cwd=driver_repo).stdout) == []
    described = json.loads(cli("feature-views", "describe", "driver_hourly_stats",
                               cwd=driver_repo).stdout)
    assert described["name"] == "driver_hourly_stats" and described["ttl"]
    missing = cli("entities", "describe", "nobody", cwd=driver_repo, ok=False)
    assert missing.returncode == 1 and "no entity named 'nobody' is applied" in missing.stderr
    bad = cli("feature-views", "list", "--tags", "team", cwd=driver_repo, ok=False)
    assert bad.returncode == 1 and "'team' is not key:value" in bad.stderr
    assert cli("feature-views", cwd=driver_repo, ok=False).returncode == 2


def test_feasts_configuration_keys_are_accepted_or_ignored_with_a_line(driver_repo, cli):
    """feature_store.yaml as Feast writes it: its offline store types, `auth: {type: no_auth}`,
    and keys that change nothing here (said once, with their line); a misspelled key is still an
    error with its line."""
    config = driver_repo / "feature_store.yaml"
    base = config.read_text().replace("type: file", "type: duckdb")
    config.write_text(base + "entity_key_serialization_version: 3\nflags:\n  alpha: true\n"
                      "coerce_tz_aware: true\nauth:\n  type: no_auth\n")
    lines = base.count("\n")
    out = cli("plan", cwd=driver_repo).stdout
    assert f"feature_store.yaml:{lines + 2}: 'flags' is Feast's and changes nothing in " \
        "Headwater: ignored" in out
    assert f"feature_store.yaml:{lines + 4}: 'coerce_tz_aware'" in out
    config.write_text(base + "coerce_tz_awre: true\n")
    failed = cli("plan", cwd=driver_repo, ok=False)
    assert f"feature_store.yaml:{lines + 1}: unknown field 'coerce_tz_awre'" in failed.stderr
    config.write_text(base + "auth:\n  type: kubernetes\n")
    failed = cli("plan", cwd=driver_repo, ok=False)
    assert "type 'kubernetes' is not supported (supported: no_auth" in failed.stderr
    config.write_text(base.replace("type: duckdb", "type: bigquery"))
    assert "unknown type 'bigquery' (supported: file, dask, duckdb, spark, ray)" in cli(
        "plan", cwd=driver_repo, ok=False).stderr
