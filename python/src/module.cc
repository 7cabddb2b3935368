// headwater._headwater: the C++ core as seen from Python. Thin on purpose: each wrapper
// converts arguments, releases the GIL around the core's work and turns a bad Status into a
// Python exception (RaiseIfError, the one place that does). The Feast-shaped API is in Python.

#include <arrow/builder.h>
#include <arrow/record_batch.h>
#include <arrow/table.h>
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>

#include "arrow_bridge.h"
#include "headwater/cli/main.h"
#include "headwater/core/memory.h"
#include "headwater/core/text.h"
#include "headwater/registry/loader.h"
#include "headwater/registry/registry_store.h"
#include "headwater/store/feature_store.h"

namespace nb = nanobind;

namespace headwater::python {
namespace {

// The exception classes of headwater.errors, looked up once at import and kept for the life of
// the process (handles, so nothing is released after the interpreter is gone).
struct ErrorClasses {
  nb::handle base, invalid, not_found, store;
};
ErrorClasses& Errors() {
  static ErrorClasses classes;
  return classes;
}

// Status::Invalid, TypeError and AlreadyExists are bad input, KeyError something unknown, IOError a
// store or file; everything else is the base class.
[[noreturn]] void Raise(const Status& status) {
  nb::handle type = Errors().base;
  if (status.IsInvalid() || status.IsTypeError() || status.IsAlreadyExists()) {
    type = Errors().invalid;  // AlreadyExists: an idempotency key reused or in use
  } else if (status.IsKeyError()) {
    type = Errors().not_found;
  } else if (status.IsIOError()) {
    type = Errors().store;
  }
  // Messages quote input, which may not be text; a Python str must be UTF-8.
  PyErr_SetString(type.ptr(), PrintableText(status.message()).c_str());
  throw nb::python_error();
}

void RaiseIfError(const Status& status) {
  if (!status.ok()) Raise(status);
}

template <typename T>
T ValueOrRaise(Result<T> result) {
  if (!result.ok()) Raise(result.status());
  return std::move(result).ValueUnsafe();
}

// Runs `work` without the GIL and raises its error with the GIL back.
template <typename Work>
auto Released(Work&& work) {
  nb::gil_scoped_release release;
  return work();  // destroyed after the return value is made: the GIL is back before it is used
}

// get_online_features' `features` when it is not a FeatureService: a list or tuple of
// "view:feature" strings.
Result<std::vector<std::string>> References(nb::handle features) {
  const bool sequence = PyList_Check(features.ptr()) || PyTuple_Check(features.ptr());
  std::vector<std::string> references;
  if (sequence) {
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(features.ptr());
    PyObject** items = PySequence_Fast_ITEMS(features.ptr());
    references.reserve(static_cast<size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) {
      Py_ssize_t size = 0;
      const char* data =
          PyUnicode_Check(items[i]) ? PyUnicode_AsUTF8AndSize(items[i], &size) : nullptr;
      if (data == nullptr) break;
      references.emplace_back(data, static_cast<size_t>(size));
    }
    if (references.size() == static_cast<size_t>(n)) return references;
  }
  PyErr_Clear();
  return Status::Invalid(
      "get_online_features: features must be a list of 'view:feature' strings or a "
      "FeatureService");
}

// Entity rows given as Python dicts ([{"driver_id": 1001}, ...]) as Arrow columns: one builder
// per key of the first row, typed by its first non-None value (int, str or bytes).
Result<std::shared_ptr<arrow::RecordBatch>> EntityRowsToArrow(nb::list rows) {
  const size_t n = rows.size();
  if (n == 0 || !nb::isinstance<nb::dict>(rows[0])) {
    return Status::Invalid(
        "entity_rows must be a non-empty list of dicts such as "
        "[{'driver_id': 1001}]");
  }
  std::vector<std::string> names;
  for (auto item : nb::borrow<nb::dict>(rows[0])) {
    if (!nb::isinstance<nb::str>(item.first)) {
      return Status::Invalid("entity_rows[0]: keys must be join key names (str)");
    }
    names.push_back(nb::cast<std::string>(item.first));
  }
  arrow::FieldVector fields;
  arrow::ArrayVector columns;
  enum class Kind { kUnknown, kInt, kString, kBytes, kFloat, kBool };
  auto kind_of = [](PyObject* value) {
    return PyBool_Check(value)      ? Kind::kBool
           : PyLong_Check(value)    ? Kind::kInt
           : PyUnicode_Check(value) ? Kind::kString
           : PyBytes_Check(value)   ? Kind::kBytes
           : PyFloat_Check(value)   ? Kind::kFloat
                                    : Kind::kUnknown;
  };
  std::vector<PyObject*> cells(n);
  for (const std::string& name : names) {
    nb::str key(name.c_str(), name.size());
    // The column's kind: its first non-None value's, or a float column when a float comes
    // among ints (a request value such as 1000 for a Float64 field).
    Kind kind = Kind::kUnknown;
    for (size_t i = 0; i < n; ++i) {
      nb::handle row = rows[i];
      if (!nb::isinstance<nb::dict>(row)) {
        return Status::Invalid("entity_rows[", i, "] is not a dict");
      }
      PyObject* value = PyDict_GetItemWithError(row.ptr(), key.ptr());
      if (value == nullptr) {
        PyErr_Clear();
        return Status::Invalid("entity_rows[", i, "] lacks '", name, "', which entity_rows[0] has");
      }
      cells[i] = value;
      if (value == Py_None) continue;
      Kind is = kind_of(value);
      if (kind == Kind::kFloat && is == Kind::kInt) is = Kind::kFloat;
      if (kind == Kind::kInt && is == Kind::kFloat) kind = Kind::kFloat;
      if (is == Kind::kUnknown || (kind != Kind::kUnknown && is != kind)) {
        return Status::Invalid("entity_rows[", i, "].", name, ": expected ",
                               kind == Kind::kUnknown  ? "an int, float, bool, str or bytes"
                               : kind == Kind::kInt    ? "an int"
                               : kind == Kind::kString ? "a str"
                               : kind == Kind::kFloat  ? "a float"
                               : kind == Kind::kBool   ? "a bool"
                                                       : "bytes",
                               ", got ", nb::type_name(Py_TYPE(value)).c_str());
      }
      kind = is;
    }
    // Then one builder of that kind.
    auto build = [&](auto& builder, auto append) -> Result<std::shared_ptr<arrow::Array>> {
      ARROW_RETURN_NOT_OK(builder.Reserve(static_cast<int64_t>(n)));
      for (size_t i = 0; i < n; ++i) {
        if (cells[i] == Py_None) {
          ARROW_RETURN_NOT_OK(builder.AppendNull());
        } else {
          ARROW_RETURN_NOT_OK(append(i, cells[i]));
        }
      }
      return builder.Finish();
    };
    std::shared_ptr<arrow::Array> column;
    if (kind == Kind::kFloat) {
      arrow::DoubleBuilder builder;
      ARROW_ASSIGN_OR_RAISE(column, build(builder, [&](size_t, PyObject* value) {
                              return builder.Append(PyFloat_AsDouble(value));
                            }));
    } else if (kind == Kind::kBool) {
      arrow::BooleanBuilder builder;
      ARROW_ASSIGN_OR_RAISE(column, build(builder, [&](size_t, PyObject* value) {
                              return builder.Append(value == Py_True);
                            }));
    } else if (kind == Kind::kString) {
      arrow::StringBuilder builder;
      ARROW_ASSIGN_OR_RAISE(column, build(builder, [&](size_t i, PyObject* value) -> Status {
                              Py_ssize_t size;
                              const char* data = PyUnicode_AsUTF8AndSize(value, &size);
                              if (data == nullptr) {
                                PyErr_Clear();
                                return Status::Invalid("entity_rows[", i, "].", name,
                                                       " is not valid UTF-8");
                              }
                              return builder.Append(data, static_cast<int32_t>(size));
                            }));
    } else if (kind == Kind::kBytes) {
      arrow::BinaryBuilder builder;
      ARROW_ASSIGN_OR_RAISE(column, build(builder, [&](size_t, PyObject* value) {
                              return builder.Append(
                                  reinterpret_cast<const uint8_t*>(PyBytes_AS_STRING(value)),
                                  static_cast<int32_t>(PyBytes_GET_SIZE(value)));
                            }));
    } else {  // ints, or every value None
      arrow::Int64Builder builder;
      ARROW_ASSIGN_OR_RAISE(column, build(builder, [&](size_t i, PyObject* value) -> Status {
                              long long v = PyLong_AsLongLong(value);
                              if (v == -1 && PyErr_Occurred()) {
                                PyErr_Clear();
                                return Status::Invalid("entity_rows[", i, "].", name,
                                                       " does not fit in 64 bits");
                              }
                              return builder.Append(v);
                            }));
    }
    fields.push_back(arrow::field(name, column->type()));
    columns.push_back(std::move(column));
  }
  return arrow::RecordBatch::Make(arrow::schema(fields), static_cast<int64_t>(n), columns);
}

// A value read, as a Python object (scalar types only: PyOnlineResult::Direct).
class PythonValue final : public online::ValueVisitor {
 public:
  PyObject* value = nullptr;
  void Null() override { value = Py_NewRef(Py_None); }
  void Int(int64_t v) override { value = PyLong_FromLongLong(v); }
  void Float(float v) override { value = PyFloat_FromDouble(v); }
  void Double(double v) override { value = PyFloat_FromDouble(v); }
  void Bool(bool v) override { value = PyBool_FromLong(v); }
  void Time(Timestamp) override { value = Py_NewRef(Py_None); }
  void String(std::string_view v) override {
    value = PyUnicode_FromStringAndSize(v.data(), static_cast<Py_ssize_t>(v.size()));
  }
  void Bytes(std::string_view v) override {
    value = PyBytes_FromStringAndSize(v.data(), static_cast<Py_ssize_t>(v.size()));
  }
  void BeginList(uint32_t) override {}
  void EndList() override {}
};

// An online response: the entity columns (Arrow) and the values read. to_dict builds Python
// lists straight from the values — the common small response, where building Arrow arrays cost
// more than the read itself (1 entity x 10 features: ~6 of 15 µs) — and the Arrow columns are
// built once, when pyarrow asks (__arrow_c_stream__). Columns to_dict cannot convert
// (timestamps, lists, documents) come back as None and are listed by `pyarrow_columns`, for the
// Python side to convert with pyarrow.
class PyOnlineResult {
 public:
  static void Register(nb::module_& m) {
    nb::class_<PyOnlineResult>(m, "OnlineResult", "Online feature values.")
        .def("to_dict", &PyOnlineResult::ToDict)
        .def_prop_ro("pyarrow_columns", &PyOnlineResult::PyarrowColumns)
        .def("__arrow_c_stream__", &PyOnlineResult::Stream,
             nb::arg("requested_schema").none() = nb::none());
  }

  PyOnlineResult(std::shared_ptr<arrow::RecordBatch> entities, online::OnlineFeatures features)
      : entities_(std::move(entities)), features_(std::move(features)) {}

  nb::dict ToDict() const {
    nb::dict out;
    for (int c = 0; c < entities_->num_columns(); ++c) {
      const std::string& name = entities_->schema()->field(c)->name();
      if (!features_.Echoes(name)) continue;
      out[nb::str(name.c_str(), name.size())] = Convert(*entities_->column(c));
    }
    const int64_t n = features_.num_rows();
    for (size_t f = 0; f < features_.feature_names().size(); ++f) {
      nb::list values = nb::steal<nb::list>(PyList_New(n));
      const bool direct = Direct(features_.feature_type(f));
      PythonValue value;
      for (int64_t row = 0; row < n; ++row) {
        value.value = nullptr;
        if (direct) {
          features_.Visit(f, row, &value);
        } else {
          value.Null();
        }
        if (value.value == nullptr) throw nb::python_error();
        PyList_SET_ITEM(values.ptr(), row, value.value);
      }
      const std::string& name = features_.feature_names()[f];
      out[nb::str(name.c_str(), name.size())] = std::move(values);
    }
    return out;
  }

  std::vector<std::string> PyarrowColumns() const {
    std::vector<std::string> names;
    for (int c = 0; c < entities_->num_columns(); ++c) {
      const auto& field = entities_->schema()->field(c);
      if (features_.Echoes(field->name()) && !Direct(*field->type())) {
        names.push_back(field->name());
      }
    }
    for (size_t f = 0; f < features_.feature_names().size(); ++f) {
      if (!Direct(features_.feature_type(f))) names.push_back(features_.feature_names()[f]);
    }
    return names;
  }

  nb::object Stream(nb::handle) {
    if (batch_ == nullptr) batch_ = ValueOrRaise(features_.ToArrow(*entities_));
    auto table = arrow::Table::FromRecordBatches({batch_});
    if (!table.ok()) Raise(table.status());
    return TableToCapsule(*table);
  }

 private:
  static bool Direct(const FeatureType& type) {
    return !type.is_array && type.kind != ScalarKind::kUnixTimestamp &&
           type.kind != ScalarKind::kJson;
  }
  static bool Direct(const arrow::DataType& type) {
    switch (type.id()) {
      case arrow::Type::INT32:
      case arrow::Type::INT64:
      case arrow::Type::FLOAT:
      case arrow::Type::DOUBLE:
      case arrow::Type::BOOL:
      case arrow::Type::STRING:
      case arrow::Type::BINARY:
        return true;
      default:
        return false;
    }
  }

  static nb::list Convert(const arrow::Array& column) {
    const int64_t n = column.length();
    nb::list values = nb::steal<nb::list>(PyList_New(n));
    for (int64_t i = 0; i < n; ++i) {
      PyObject* value = nullptr;
      if (column.IsNull(i) || !Direct(*column.type())) {
        value = Py_NewRef(Py_None);
      } else {
        switch (column.type_id()) {
          case arrow::Type::INT32:
            value = PyLong_FromLong(static_cast<const arrow::Int32Array&>(column).Value(i));
            break;
          case arrow::Type::INT64:
            value = PyLong_FromLongLong(static_cast<const arrow::Int64Array&>(column).Value(i));
            break;
          case arrow::Type::FLOAT:
            value = PyFloat_FromDouble(static_cast<const arrow::FloatArray&>(column).Value(i));
            break;
          case arrow::Type::DOUBLE:
            value = PyFloat_FromDouble(static_cast<const arrow::DoubleArray&>(column).Value(i));
            break;
          case arrow::Type::BOOL:
            value = PyBool_FromLong(static_cast<const arrow::BooleanArray&>(column).Value(i));
            break;
          case arrow::Type::STRING: {
            auto view = static_cast<const arrow::StringArray&>(column).GetView(i);
            value = PyUnicode_FromStringAndSize(view.data(), static_cast<Py_ssize_t>(view.size()));
            break;
          }
          default: {
            auto view = static_cast<const arrow::BinaryArray&>(column).GetView(i);
            value = PyBytes_FromStringAndSize(view.data(), static_cast<Py_ssize_t>(view.size()));
            break;
          }
        }
      }
      if (value == nullptr) throw nb::python_error();
      PyList_SET_ITEM(values.ptr(), i, value);
    }
    return values;
  }

  std::shared_ptr<arrow::RecordBatch> entities_;
  online::OnlineFeatures features_;
  std::shared_ptr<arrow::RecordBatch> batch_;  // built by the first Stream
};

class PyStore {
 public:
  static void Register(nb::module_& m) {
    nb::class_<PyStore>(m, "Store", "One feature repository: registry, online store, pipelines.")
        .def(nb::init<const std::string&>(), nb::arg("repo_path"))
        .def_prop_ro("project", [](PyStore& self) { return self.store_->config().project; })
        .def_prop_ro("repo_path",
                     [](PyStore& self) { return self.store_->config().repo_path.string(); })
        .def_prop_ro("config", &PyStore::Config)
        .def("apply", &PyStore::Apply, nb::arg("yaml"), nb::arg("dry_run"),
             nb::arg("remove") = std::vector<std::pair<std::string, std::string>>())
        .def("registry_json", &PyStore::RegistryJson)
        .def("has_udf_views", &PyStore::HasUdfViews)
        .def("query_entity_rows", &PyStore::QueryEntityRows, nb::arg("query"))
        .def("historical", &PyStore::Historical, nb::arg("entities"), nb::arg("features"),
             nb::arg("feature_service"), nb::arg("full_feature_names"))
        .def("online", &PyStore::Online, nb::arg("entities"), nb::arg("features"),
             nb::arg("feature_service"), nb::arg("full_feature_names"),
             nb::arg("none_if_udf_views") = false)
        .def("online_rows", &PyStore::OnlineRows, nb::arg("entity_rows"), nb::arg("features"),
             nb::arg("feature_service"), nb::arg("full_feature_names"),
             nb::arg("none_if_udf_views") = false)
        .def("push", &PyStore::Push, nb::arg("source"), nb::arg("df"), nb::arg("to"),
             nb::arg("idempotency_key") = "")
        .def("write_to_online_store", &PyStore::WriteToOnlineStore, nb::arg("view"), nb::arg("df"))
        .def("materialize", &PyStore::Materialize, nb::arg("start_micros").none(),
             nb::arg("end_micros"), nb::arg("views"))
        .def("teardown", &PyStore::Teardown)
        .def("close", &PyStore::Close);
  }

  explicit PyStore(const std::string& repo_path)
      : store_(ValueOrRaise(Released([&] { return store::FeatureStore::Open(repo_path); }))) {}

  // Feast's partial apply of the objects `yaml` describes, removing `remove` ((kind, name)
  // pairs), or with dry_run its plan.
  nb::tuple Apply(const std::string& yaml, bool dry_run,
                  std::vector<std::pair<std::string, std::string>> remove) {
    auto outcome = ValueOrRaise(Released([&]() -> Result<store::ApplyOutcome> {
      registry::Definitions next;
      ARROW_RETURN_NOT_OK(registry::ParseDefinitions(yaml, "<python objects>", &next));
      store::ApplyOptions options;
      options.dry_run = dry_run;
      options.partial = true;
      options.remove = std::move(remove);
      return store_->Apply(std::move(next), options);
    }));
    return nb::make_tuple(outcome.report, outcome.version);
  }

  // Whether any on-demand view runs a Python function (then reads go through _udf_views).
  bool HasUdfViews() {
    auto applied = store_->Applied();
    if (!applied.ok()) return false;  // the read itself says what is wrong
    const auto& views = (*applied)->registry.definitions.on_demand_feature_views;
    return std::any_of(views.begin(), views.end(), [](const auto& v) { return v.is_udf(); });
  }

  std::string RegistryJson() {
    return ValueOrRaise(Released([&]() -> Result<std::string> {
      ARROW_RETURN_NOT_OK(store_->Refresh().status());
      return registry::RegistryToJson(store_->snapshot()->registry, 0);
    }));
  }

  nb::object Historical(nb::handle entities, const std::vector<std::string>& features,
                        const std::string& service, bool full_feature_names) {
    auto table = ValueOrRaise(TableFromPython(entities, "entity_df"));
    offline::HistoricalRetrievalOptions options;
    options.full_feature_names = full_feature_names;
    auto result = ValueOrRaise(Released([&] {
      return store_->GetHistoricalFeatures(table, {features, service}, options);
    }));
    return TableToCapsule(std::move(result));
  }

  nb::object QueryEntityRows(const std::string& query) {
    return TableToCapsule(ValueOrRaise(Released([&] { return store_->QueryEntityRows(query); })));
  }

  std::optional<PyOnlineResult> Online(nb::handle entities, nb::handle features,
                                       const std::string& service, bool full_feature_names,
                                       bool none_if_udf_views) {
    auto references = ValueOrRaise(References(features));
    auto table = ValueOrRaise(TableFromPython(entities, "entity_rows"));
    auto batch = ValueOrRaise(table->CombineChunksToBatch());
    return Read(std::move(batch), references, service, full_feature_names, none_if_udf_views);
  }

  std::optional<PyOnlineResult> OnlineRows(nb::list entity_rows, nb::handle features,
                                           const std::string& service, bool full_feature_names,
                                           bool none_if_udf_views) {
    auto references = ValueOrRaise(References(features));
    return Read(ValueOrRaise(EntityRowsToArrow(entity_rows)), references, service,
                full_feature_names, none_if_udf_views);
  }

  // The read. When it fails, `none_if_udf_views` is set and the registry has views of a Python
  // function, None instead of the error: the SDK then runs those views itself (a read naming
  // one fails here) and raises any other failure on its own path. So a read costs one call and
  // one registry check.
  std::optional<PyOnlineResult> Read(std::shared_ptr<arrow::RecordBatch> entities,
                                     const std::vector<std::string>& features,
                                     const std::string& service, bool full_feature_names,
                                     bool none_if_udf_views) {
    auto read = Released([&]() -> Result<online::OnlineFeatures> {
      ARROW_ASSIGN_OR_RAISE(auto selection, store_->SelectOnline({features, service}));
      return store_->GetOnlineFeatures(online::EntityRowsFromArrow(*entities), std::move(selection),
                                       full_feature_names);
    });
    if (!read.ok()) {
      if (none_if_udf_views && HasUdfViews()) return std::nullopt;
      Raise(read.status());
    }
    return PyOnlineResult(std::move(entities), std::move(read).ValueUnsafe());
  }

  // The settings feature_store.yaml resolved to, by Feast's section names.
  nb::dict Config() const {
    const registry::RepoConfig& config = store_->config();
    auto section = [](const std::string& type, const std::string& path) {
      nb::dict out;
      out["type"] = type;
      if (!path.empty()) out["path"] = path;
      return out;
    };
    nb::dict out;
    out["project"] = config.project;
    out["provider"] = config.provider;
    out["registry"] = config.registry_path.string();
    out["online_store"] = section(config.online_store.type, config.online_store.path);
    out["offline_store"] = section(config.offline_store.type, config.offline_store.path);
    out["batch_engine"] = section(config.batch_engine.type, "");
    out["stream_engine"] = section(config.stream_engine.type, "");
    return out;
  }

  nb::dict Push(const std::string& source, nb::handle df, const std::string& to,
                const std::string& idempotency_key) {
    auto table = ValueOrRaise(TableFromPython(df, "df"));
    auto pushed = ValueOrRaise(Released([&]() -> Result<ingest::PushResult> {
      ARROW_ASSIGN_OR_RAISE(auto targets, ingest::ParsePushTargets(to));
      return store_->Push(source, *table, targets, idempotency_key);
    }));
    nb::dict out;
    out["rows"] = pushed.rows;
    out["offline_file"] = pushed.offline_file;
    out["online_views"] = pushed.online_views;
    out["written"] = pushed.written;
    out["repeated"] = pushed.repeated;
    return out;
  }

  nb::dict WriteToOnlineStore(const std::string& view, nb::handle df) {
    auto table = ValueOrRaise(TableFromPython(df, "df"));
    auto written = ValueOrRaise(Released([&] { return store_->WriteToOnlineStore(view, *table); }));
    nb::dict out;
    out["rows"] = table->num_rows();
    out["written"] = written.written;
    out["skipped_older"] = written.skipped_older;
    return out;
  }

  // Returns one line per view, as the CLI prints them.
  std::string Materialize(std::optional<int64_t> start_micros, int64_t end_micros,
                          const std::vector<std::string>& views) {
    store::MaterializeRequest request;
    if (start_micros) request.start = Timestamp{*start_micros};
    request.end = Timestamp{end_micros};
    request.views = views;
    std::string report;
    request.on_view = [&report](const ingest::ViewMaterialization& done) {
      report += ingest::DescribeMaterialization(done) + "\n";
    };
    ValueOrRaise(Released([&] { return store_->Materialize(request); }));
    return report;
  }

  std::string Teardown() {
    return ValueOrRaise(Released([&] { return store_->Teardown(); }));
  }
  void Close() {
    RaiseIfError(Released([&] { return store_->Close(); }));
  }

 private:
  std::unique_ptr<store::FeatureStore> store_;
};

// The `headwater` command, for the package's entry point.
int Main(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  nb::gil_scoped_release release;
  return cli::Main(static_cast<int>(args.size()), argv.data());
}

}  // namespace
}  // namespace headwater::python

NB_MODULE(_headwater, m) {
  using namespace headwater::python;
  nb::module_ errors = nb::module_::import_("headwater.errors");
  auto keep = [&](const char* name) { return nb::object(errors.attr(name)).release(); };
  Errors() = {keep("HeadwaterError"), keep("InvalidInputError"), keep("NotFoundError"),
              keep("StoreError")};
  m.def("main", &Main, nb::arg("argv"),
        "Runs the headwater command with argv (argv[0] is the program name); returns the exit "
        "code.");
  m.def("set_transparent_huge_pages_disabled", &headwater::SetTransparentHugePagesDisabled,
        nb::arg("disabled"),
        "Turns transparent huge pages off (True) or back on for this process; returns the "
        "setting replaced. The SDK turns them off around a retrieval and its conversions.");
  PyOnlineResult::Register(m);
  PyStore::Register(m);
}
