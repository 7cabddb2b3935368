#pragma once
// Arrow data between Python and C++ by the Arrow C stream interface (PyCapsules named
// "arrow_array_stream"): no rows are copied either way.

#include <arrow/type_fwd.h>
#include <nanobind/nanobind.h>

#include <memory>

#include "headwater/core/status.h"

namespace headwater::python {

/// The table behind any object with `__arrow_c_stream__` (a pyarrow Table or RecordBatchReader,
/// a polars or pandas frame that offers it). Needs the GIL; reads the stream without it.
Result<std::shared_ptr<arrow::Table>> TableFromPython(nanobind::handle object, const char* what);

/// A capsule holding `table` as an Arrow C stream, for pyarrow.table() on the Python side.
nanobind::object TableToCapsule(std::shared_ptr<arrow::Table> table);

}  // namespace headwater::python
