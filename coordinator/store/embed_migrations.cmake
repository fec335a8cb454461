# Generates a C++ source holding every migrations/NNNN_name.sql as a raw string, so a deployed
# coordinator needs no SQL files beside it. Invoked by CMake with -DSOURCE_DIR and -DOUTPUT.
file(GLOB files "${SOURCE_DIR}/*.sql")
list(SORT files)
set(body "")
foreach(f IN LISTS files)
  get_filename_component(name "${f}" NAME_WE)
  if(NOT name MATCHES "^([0-9][0-9][0-9][0-9])_[a-z0-9_]+$")
    message(FATAL_ERROR "migration file name must look like 0001_name.sql: ${f}")
  endif()
  math(EXPR version "${CMAKE_MATCH_1}")
  file(READ "${f}" sql)
  if(sql MATCHES "\\)vpsfleet_sql\"")
    message(FATAL_ERROR "${f} contains the raw string delimiter")
  endif()
  string(APPEND body "        {${version}, \"${name}\", R\"vpsfleet_sql(${sql})vpsfleet_sql\"},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from coordinator/store/migrations/*.sql; do not edit.
#include \"coordinator/store/migrations.hpp\"

namespace vpsfleet::store {

const std::vector<migration>& embedded_migrations() {
    static const std::vector<migration> all{
${body}    };
    return all;
}

}  // namespace vpsfleet::store
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
