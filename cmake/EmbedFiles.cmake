# sagaworks_embed_files(TARGET NAME NAMESPACE ns FUNCTION fn FILES a.sql b.sql)
#
# Compiles text files into a static library exposing
#   const std::vector<std::pair<std::string_view, std::string_view>>& ns::fn();
# (file name, contents), sorted by file name. Migrations and demo data travel
# inside the binaries, so a service started anywhere (a container, a test's
# temp dir) applies exactly the SQL it was built with.
function(sagaworks_embed_files target)
  cmake_parse_arguments(ARG "" "NAMESPACE;FUNCTION" "FILES" ${ARGN})
  set(out_cc "${CMAKE_CURRENT_BINARY_DIR}/${target}_embedded.cc")
  set(files ${ARG_FILES})
  list(SORT files)
  add_custom_command(
    OUTPUT "${out_cc}"
    COMMAND ${CMAKE_COMMAND} "-DOUT=${out_cc}" "-DNAMESPACE=${ARG_NAMESPACE}"
            "-DFUNCTION=${ARG_FUNCTION}" "-DFILES=${files}"
            -P "${PROJECT_SOURCE_DIR}/cmake/EmbedFilesScript.cmake"
    DEPENDS ${files} "${PROJECT_SOURCE_DIR}/cmake/EmbedFilesScript.cmake"
    COMMENT "Embedding ${target}"
    VERBATIM)
  add_library(${target} STATIC "${out_cc}")
endfunction()
