#include "arrow_bridge.h"

#include <arrow/c/abi.h>
#include <arrow/c/bridge.h>
#include <arrow/record_batch.h>
#include <arrow/table.h>

namespace nb = nanobind;

namespace headwater::python {

Result<std::shared_ptr<arrow::Table>> TableFromPython(nb::handle object, const char* what) {
  if (!nb::hasattr(object, "__arrow_c_stream__")) {
    return Status::TypeError(what,
                             " must be a pandas DataFrame, a pyarrow Table or an object with "
                             "__arrow_c_stream__, not ",
                             nb::type_name(object.type()).c_str());
  }
  nb::object capsule = object.attr("__arrow_c_stream__")();
  auto* stream =
      static_cast<ArrowArrayStream*>(PyCapsule_GetPointer(capsule.ptr(), "arrow_array_stream"));
  if (stream == nullptr) {
    PyErr_Clear();
    return Status::TypeError(what, ".__arrow_c_stream__() did not return an arrow_array_stream");
  }
  // Importing moves the stream out of the capsule (its release becomes null), so the capsule's
  // destructor leaves it alone.
  ARROW_ASSIGN_OR_RAISE(auto reader, arrow::ImportRecordBatchReader(stream));
  nb::gil_scoped_release release;
  return reader->ToTable();
}

nb::object TableToCapsule(std::shared_ptr<arrow::Table> table) {
  auto* stream = new ArrowArrayStream();
  auto reader = std::make_shared<arrow::TableBatchReader>(std::move(table));
  Status exported = arrow::ExportRecordBatchReader(reader, stream);
  if (!exported.ok()) {
    delete stream;
    throw std::runtime_error(exported.ToString());
  }
  return nb::steal(PyCapsule_New(stream, "arrow_array_stream", [](PyObject* capsule) {
    auto* owned =
        static_cast<ArrowArrayStream*>(PyCapsule_GetPointer(capsule, "arrow_array_stream"));
    if (owned->release != nullptr) owned->release(owned);
    delete owned;
  }));
}

}  // namespace headwater::python
