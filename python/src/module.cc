// headwater._headwater: the C++ core as seen from Python. Thin on purpose: each wrapper
// converts arguments, releases the GIL around the core's work and turns a bad Status into a
// Python exception (RaiseIfError, the one place that does). The Feast-shaped API is in Python.

#include <arrow/record_batch.h>
#include <arrow/table.h>
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "arrow_bridge.h"
#include "headwater/cli/main.h"
#include "store.h"

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

// Status::Invalid and TypeError are bad input, KeyError something unknown, IOError a store or
// file; everything else is the base class.
[[noreturn]] void Raise(const Status& status) {
  nb::handle type = Errors().base;
  if (status.IsInvalid() || status.IsTypeError()) {
    type = Errors().invalid;
  } else if (status.IsKeyError()) {
    type = Errors().not_found;
  } else if (status.IsIOError()) {
    type = Errors().store;
  }
  PyErr_SetString(type.ptr(), status.message().c_str());
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
  decltype(work()) result = Status::UnknownError("not run");
  {
    nb::gil_scoped_release release;
    result = work();
  }
  return result;
}

class PyStore {
 public:
  static void Register(nb::module_& m) {
    nb::class_<PyStore>(m, "Store", "One feature repository: registry, online store, pipelines.")
        .def(nb::init<const std::string&>(), nb::arg("repo_path"))
        .def_prop_ro("project", [](PyStore& self) { return self.store_->config().project; })
        .def_prop_ro("repo_path",
                     [](PyStore& self) { return self.store_->config().repo_path.string(); })
        .def("apply", &PyStore::Apply, nb::arg("yaml"), nb::arg("dry_run"))
        .def("registry_json", &PyStore::RegistryJson)
        .def("historical", &PyStore::Historical, nb::arg("entities"), nb::arg("features"),
             nb::arg("feature_service"), nb::arg("full_feature_names"))
        .def("online", &PyStore::Online, nb::arg("entities"), nb::arg("features"),
             nb::arg("feature_service"), nb::arg("full_feature_names"))
        .def("push", &PyStore::Push, nb::arg("source"), nb::arg("df"), nb::arg("to"))
        .def("write_to_online_store", &PyStore::WriteToOnlineStore, nb::arg("view"),
             nb::arg("df"))
        .def("materialize", &PyStore::Materialize, nb::arg("start_micros").none(),
             nb::arg("end_micros"), nb::arg("views"))
        .def("teardown", &PyStore::Teardown)
        .def("close", &PyStore::Close);
  }

  explicit PyStore(const std::string& repo_path)
      : store_(ValueOrRaise(Released([&] { return Store::Open(repo_path); }))) {}

  nb::tuple Apply(const std::string& yaml, bool dry_run) {
    auto [report, version] = ValueOrRaise(Released([&] { return store_->Apply(yaml, dry_run); }));
    return nb::make_tuple(report, version);
  }

  std::string RegistryJson() {
    return ValueOrRaise(Released([&] { return store_->RegistryJson(); }));
  }

  nb::object Historical(nb::handle entities, const std::vector<std::string>& features,
                        const std::string& service, bool full_feature_names) {
    auto table = ValueOrRaise(TableFromPython(entities, "entity_df"));
    auto result = ValueOrRaise(Released(
        [&] { return store_->Historical(table, features, service, full_feature_names); }));
    return TableToCapsule(std::move(result));
  }

  nb::object Online(nb::handle entities, const std::vector<std::string>& features,
                    const std::string& service, bool full_feature_names) {
    auto table = ValueOrRaise(TableFromPython(entities, "entity_rows"));
    auto result = ValueOrRaise(Released([&]() -> Result<std::shared_ptr<arrow::Table>> {
      ARROW_ASSIGN_OR_RAISE(auto batch, table->CombineChunksToBatch());
      ARROW_ASSIGN_OR_RAISE(auto rows,
                            store_->Online(*batch, features, service, full_feature_names));
      return arrow::Table::FromRecordBatches({rows});
    }));
    return TableToCapsule(std::move(result));
  }

  nb::dict Push(const std::string& source, nb::handle df, const std::string& to) {
    auto table = ValueOrRaise(TableFromPython(df, "df"));
    auto pushed = ValueOrRaise(Released([&] { return store_->Push(source, *table, to); }));
    nb::dict out;
    out["rows"] = pushed.rows;
    out["offline_file"] = pushed.offline_file;
    out["online_views"] = pushed.online_views;
    out["written"] = pushed.written;
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

  std::string Materialize(std::optional<int64_t> start_micros, int64_t end_micros,
                          const std::vector<std::string>& views) {
    std::optional<Timestamp> start;
    if (start_micros) start = Timestamp{*start_micros};
    return ValueOrRaise(
        Released([&] { return store_->Materialize(start, Timestamp{end_micros}, views); }));
  }

  void Teardown() { RaiseIfError(Released([&] { return store_->Teardown(); })); }
  void Close() { RaiseIfError(Released([&] { return store_->Close(); })); }

 private:
  std::unique_ptr<Store> store_;
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
  PyStore::Register(m);
}
