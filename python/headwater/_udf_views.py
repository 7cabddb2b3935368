"""On-demand views of a Python function (Feast's ``mode="pandas"`` and ``mode="python"``), run by
the SDK in the caller's process around the C++ reads.

A read that names such a view asks the C++ store for the stored features requested plus every
feature the function's source views project (all with full names, so nothing collides), then
calls each function once over all rows and puts the requested columns in request order. The
function sees each source feature as ``feature`` and ``view__feature``, the request values and
the other entity columns. Expression views need none of this: the C++ store computes them."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import pyarrow as pa

from .errors import InvalidInputError, NotFoundError

_ARROW_TYPES = {"Int32": pa.int32(), "Int64": pa.int64(), "Float32": pa.float32(),
                "Float64": pa.float64(), "String": pa.string(), "Bytes": pa.binary(),
                "Bool": pa.bool_(), "UnixTimestamp": pa.timestamp("us", tz="UTC")}


def _arrow_type(dtype: str) -> pa.DataType:
    if dtype.startswith("Array("):
        return pa.list_(_ARROW_TYPES[dtype[6:-1]])
    return _ARROW_TYPES[dtype]


class UdfPlan:
    """A read naming views of a Python function: what to ask the C++ store, what to run."""

    def __init__(self, wanted: List[Tuple[str, str]], views: Dict[str, Dict[str, Any]],
                 registry: Dict[str, Any]) -> None:
        self.wanted = wanted  # (view, feature) in request order
        self.views = views    # the Python-function views read, by name (registry JSON)
        feature_views = {v["name"]: v for v in registry.get("feature_views", [])}
        requests = {s["name"]: s for s in registry.get("sources", []) if s["type"] == "request"}
        self.inputs: Dict[str, List[Tuple[str, str]]] = {}   # view -> source (view, feature)
        self.request: Dict[str, List[Tuple[str, str]]] = {}  # view -> (request source, field)
        for name, view in views.items():
            self.inputs[name], self.request[name] = [], []
            for source in view["sources"]:
                listed = source.get("features") or []
                if source["view"] in feature_views:
                    features = listed or [f["name"] for f in feature_views[source["view"]]["features"]]
                    self.inputs[name] += [(source["view"], f) for f in features]
                elif source["view"] in requests:
                    fields = listed or [f["name"] for f in requests[source["view"]]["schema"]]
                    self.request[name] += [(source["view"], f) for f in fields]
        stored = [f"{v}:{f}" for v, f in wanted if v not in views]
        hidden = [f"{v}:{f}" for name in views for v, f in self.inputs[name]]
        self.references = list(dict.fromkeys(stored + hidden))

    def run(self, table: pa.Table, entities: pa.Table, full_feature_names: bool,
            online: bool = True) -> pa.Table:
        """The answer: the entity columns and the requested features, from `table` (the C++
        store's answer, features with full names) and from each function's outputs. Online, the
        entity columns are `entities` without the request values (as Feast answers); in training
        data, all of them as `table` has them."""
        entity_names = entities.column_names
        if not online:
            entities = table.select(entity_names)
        computed: Dict[Tuple[str, str], pa.Array] = {}
        for name, view in self.views.items():
            requested = [f for v, f in self.wanted if v == name]
            if not requested:
                continue
            outputs = _call(view, self._inputs(name, table, entities), table.num_rows)
            for feature in requested:
                computed[(name, feature)] = outputs[feature]
        # The answer echoes the entity columns but not the request values (as Feast's does).
        requested = {f for name in self.views for _, f in self.request[name]} if online else set()
        names = [n for n in entity_names if n not in requested]
        columns = [entities.column(n) for n in names]
        for view, feature in self.wanted:
            names.append(f"{view}__{feature}" if full_feature_names else feature)
            columns.append(computed[(view, feature)] if (view, feature) in computed
                           else table.column(f"{view}__{feature}"))
        if len(set(names)) != len(names):
            raise InvalidInputError("an output column would appear twice; use "
                                    "full_feature_names=True")
        return pa.table(columns, names=names)

    def _inputs(self, name: str, table: pa.Table, entities: pa.Table) -> Dict[str, Any]:
        inputs: Dict[str, Any] = {n: entities.column(n) for n in entities.column_names}
        for source, field in self.request[name]:
            if field not in inputs:
                raise InvalidInputError(
                    f"on-demand feature view '{name}' needs the request value '{field}' (request "
                    f"source '{source}'): send it with the entity rows")
        for view, feature in self.inputs[name]:
            column = table.column(f"{view}__{feature}")
            inputs[f"{view}__{feature}"] = column
            inputs.setdefault(feature, column)
        return inputs


def _call(view: Dict[str, Any], inputs: Dict[str, Any], num_rows: int) -> Dict[str, pa.Array]:
    """Runs a view's function over `inputs` and checks its answer against the schema."""
    from .definitions import _load_udf

    name, mode = view["name"], view["mode"]
    try:
        udf = _load_udf(view["udf"], name)
    except ValueError as error:
        raise InvalidInputError(str(error)) from error
    table = pa.table(inputs)
    argument: Any = table.to_pandas() if mode == "pandas" else table.to_pydict()
    try:
        answer = udf(argument)
    except Exception as error:  # noqa: BLE001 - the user's function; say which view raised
        raise InvalidInputError(f"on-demand feature view '{name}': its udf raised "
                                f"{type(error).__name__}: {error}") from error
    if mode == "pandas":
        import pandas as pd
        if not isinstance(answer, pd.DataFrame):
            raise InvalidInputError(f"on-demand feature view '{name}': its udf returned "
                                    f"{type(answer).__name__}, not a pandas DataFrame")
    elif not isinstance(answer, dict):
        raise InvalidInputError(f"on-demand feature view '{name}': its udf returned "
                                f"{type(answer).__name__}, not a dict of lists")
    out: Dict[str, pa.Array] = {}
    for field in view["features"]:
        if field["name"] not in answer:
            raise InvalidInputError(f"on-demand feature view '{name}': its udf returned no "
                                    f"'{field['name']}' (it returned {sorted(map(str, answer))})")
        values = answer[field["name"]]
        try:
            array = pa.array(values, type=_arrow_type(field["dtype"]), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as error:
            raise InvalidInputError(f"on-demand feature view '{name}': its udf's "
                                    f"'{field['name']}' is not {field['dtype']}: {error}") from error
        if len(array) != num_rows:
            raise InvalidInputError(f"on-demand feature view '{name}': its udf returned "
                                    f"{len(array)} values of '{field['name']}' for {num_rows} rows")
        out[field["name"]] = array
    return out


def plan(registry: Dict[str, Any], references: List[str], service: str) -> Optional[UdfPlan]:
    """The plan of a read naming views of a Python function; None for any other read (the C++
    store answers it alone)."""
    views = {v["name"]: v for v in registry.get("on_demand_feature_views", [])
             if v["mode"] in ("pandas", "python")}
    if not views:
        return None
    if service:
        found = [s for s in registry.get("feature_services", []) if s["name"] == service]
        if not found:
            raise NotFoundError(f"unknown feature service '{service}'")
        all_views = {v["name"]: v for v in registry.get("feature_views", [])
                     + registry.get("on_demand_feature_views", [])}
        wanted = []
        for projection in found[0]["features"]:
            features = projection.get("features") or [
                f["name"] for f in all_views[projection["view"]]["features"]]
            wanted += [(projection["view"], f) for f in features]
    else:
        wanted = [tuple(r.split(":", 1)) for r in references if ":" in r]
        if len(wanted) != len(references):
            return None  # the C++ store names the malformed reference
    if not any(view in views for view, _ in wanted):
        return None
    for view, feature in wanted:
        if view in views and feature not in [f["name"] for f in views[view]["features"]]:
            raise NotFoundError(f"feature reference '{view}:{feature}': on-demand feature view "
                                f"'{view}' has no feature '{feature}'")
    return UdfPlan(list(dict.fromkeys(wanted)), {n: v for n, v in views.items()
                                                 if any(n == w for w, _ in wanted)}, registry)
