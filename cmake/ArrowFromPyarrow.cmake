# Finds Arrow C++ (arrow, compute, acero, substrait, parquet) inside the pyarrow wheel of the
# project's virtual environment. Debian has no Arrow package, and the wheel ships headers and
# shared libraries. Defines the imported targets Arrow::arrow, Arrow::compute, Arrow::acero,
# Arrow::substrait, Arrow::parquet and puts the wheel's library directory in the build and
# install run path, so binaries run without LD_LIBRARY_PATH.
# Under pip (scikit-build-core), the interpreter building the package; otherwise the project's.
if(DEFINED SKBUILD AND DEFINED Python_EXECUTABLE)
  set(headwater_default_python "${Python_EXECUTABLE}")
else()
  set(headwater_default_python "${CMAKE_SOURCE_DIR}/.venv/bin/python")
endif()
set(HEADWATER_PYTHON "${headwater_default_python}" CACHE FILEPATH
    "Python interpreter whose pyarrow provides Arrow C++")
if(NOT EXISTS "${HEADWATER_PYTHON}")
  message(FATAL_ERROR "No ${HEADWATER_PYTHON}: run scripts/setup first (or `make build`).")
endif()
execute_process(
  COMMAND "${HEADWATER_PYTHON}" -c
    "import pyarrow as pa; pa.create_library_symlinks(); print(pa.get_include()); print(pa.get_library_dirs()[0]); print(pa.cpp_version)"
  OUTPUT_VARIABLE pyarrow_out RESULT_VARIABLE pyarrow_rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT pyarrow_rc EQUAL 0)
  message(FATAL_ERROR "pyarrow is not importable by ${HEADWATER_PYTHON}: run scripts/setup")
endif()
string(REPLACE "\n" ";" pyarrow_out "${pyarrow_out}")
list(GET pyarrow_out 0 ARROW_INCLUDE_DIR)
list(GET pyarrow_out 1 ARROW_LIBRARY_DIR)
list(GET pyarrow_out 2 ARROW_VERSION)
message(STATUS "Arrow ${ARROW_VERSION} from pyarrow: ${ARROW_LIBRARY_DIR}")

foreach(component arrow arrow_compute arrow_acero arrow_dataset arrow_substrait parquet)
  find_library(${component}_LIB NAMES ${component} PATHS "${ARROW_LIBRARY_DIR}" NO_DEFAULT_PATH REQUIRED)
endforeach()
add_library(Arrow::arrow SHARED IMPORTED)
set_target_properties(Arrow::arrow PROPERTIES
  IMPORTED_LOCATION "${arrow_LIB}"
  INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${ARROW_INCLUDE_DIR}"
  INTERFACE_INCLUDE_DIRECTORIES "${ARROW_INCLUDE_DIR}")
add_library(Arrow::compute SHARED IMPORTED)
set_target_properties(Arrow::compute PROPERTIES
  IMPORTED_LOCATION "${arrow_compute_LIB}" INTERFACE_LINK_LIBRARIES Arrow::arrow)
add_library(Arrow::acero SHARED IMPORTED)
set_target_properties(Arrow::acero PROPERTIES
  IMPORTED_LOCATION "${arrow_acero_LIB}" INTERFACE_LINK_LIBRARIES Arrow::compute)
# Mode substrait of on-demand views: Arrow's Substrait consumer, run by Acero.
add_library(Arrow::substrait SHARED IMPORTED)
set_target_properties(Arrow::substrait PROPERTIES
  IMPORTED_LOCATION "${arrow_substrait_LIB}" INTERFACE_LINK_LIBRARIES Arrow::acero)
# serve-offline: Feast's remote offline store protocol, an Arrow Flight server.
find_library(arrow_flight_LIB NAMES arrow_flight PATHS "${ARROW_LIBRARY_DIR}" NO_DEFAULT_PATH REQUIRED)
add_library(Arrow::flight SHARED IMPORTED)
set_target_properties(Arrow::flight PROPERTIES
  IMPORTED_LOCATION "${arrow_flight_LIB}" INTERFACE_LINK_LIBRARIES Arrow::arrow)
# Object storage: Arrow's S3 file system (core/object_store.h).
find_library(arrow_s3_LIB NAMES arrow_s3 PATHS "${ARROW_LIBRARY_DIR}" NO_DEFAULT_PATH REQUIRED)
add_library(Arrow::s3 SHARED IMPORTED)
set_target_properties(Arrow::s3 PROPERTIES
  IMPORTED_LOCATION "${arrow_s3_LIB}" INTERFACE_LINK_LIBRARIES Arrow::arrow)
add_library(Arrow::parquet SHARED IMPORTED)
set_target_properties(Arrow::parquet PROPERTIES
  IMPORTED_LOCATION "${parquet_LIB}" INTERFACE_LINK_LIBRARIES Arrow::arrow)

set(CMAKE_BUILD_RPATH "${ARROW_LIBRARY_DIR}")
set(CMAKE_INSTALL_RPATH "${ARROW_LIBRARY_DIR}")
