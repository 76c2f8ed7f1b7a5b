# mag_layer(NAME FOLDER USES <libraries>): one static library per source
# folder, linked to the libraries it USES, plus a check, part of ALL and run
# before the library compiles, that its sources include project headers only
# from its own folder and from the folders of the libraries it uses (directly
# or through them). A layering violation fails the build.
# A folder's main.cpp is an executable's entry point, not part of the library.
function(mag_layer name folder)
  cmake_parse_arguments(LAYER "" "" "USES" ${ARGN})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${folder}/*.cpp)
  list(FILTER sources EXCLUDE REGEX "/main\\.cpp$")
  add_library(${name} STATIC ${sources})
  target_link_libraries(${name} PUBLIC ${LAYER_USES})
  mag_layer_check(${name} ${folder} USES ${LAYER_USES})
endfunction()

# The check alone, for a library defined elsewhere: NAME's sources are those
# under FOLDER; it may include from there and from what USES may include.
function(mag_layer_check name folder)
  cmake_parse_arguments(LAYER "" "" "USES" ${ARGN})
  file(GLOB_RECURSE checked CONFIGURE_DEPENDS ${folder}/*.cpp ${folder}/*.h)
  set(allowed ${folder})
  foreach(used IN LISTS LAYER_USES)
    get_property(used_folders GLOBAL PROPERTY MAG_LAYER_FOLDERS_${used})
    if(NOT used_folders)
      message(FATAL_ERROR "mag_layer(${name}): ${used} is not a mag_layer library (declare it first)")
    endif()
    list(APPEND allowed ${used_folders})
  endforeach()
  list(REMOVE_DUPLICATES allowed)
  set_property(GLOBAL PROPERTY MAG_LAYER_FOLDERS_${name} ${allowed})
  string(REPLACE ";" "|" allowed_arg "${allowed}")
  set(stamp ${CMAKE_BINARY_DIR}/layering/${name}.ok)
  add_custom_command(
    OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} -DLIBRARY=${name} -DSOURCE_DIR=${CMAKE_SOURCE_DIR} -DFOLDER=${folder}
            "-DALLOWED=${allowed_arg}" -DSTAMP=${stamp} -P ${CMAKE_SOURCE_DIR}/cmake/check_layering.cmake
    DEPENDS ${checked} ${CMAKE_SOURCE_DIR}/cmake/check_layering.cmake
    COMMENT "Checking the includes of ${folder} (${name})"
    VERBATIM)
  add_custom_target(${name}_layering ALL DEPENDS ${stamp})
  add_dependencies(${name} ${name}_layering)
endfunction()
