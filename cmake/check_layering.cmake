# Build-time layering check, run by mag_layer() (cmake/layering.cmake) as
# `cmake -P`: every quoted #include of a project header in FOLDER's sources
# must name a path under one of the ALLOWED prefixes ("|"-separated), else
# the build fails with the file, the include and what the library may use.
# Writes STAMP when every include is allowed.
string(REPLACE "|" ";" allowed "${ALLOWED}")
file(GLOB_RECURSE sources "${SOURCE_DIR}/${FOLDER}/*.cpp" "${SOURCE_DIR}/${FOLDER}/*.h")
set(violations "")
foreach(source IN LISTS sources)
  file(RELATIVE_PATH relative "${SOURCE_DIR}" "${source}")
  file(STRINGS "${source}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]*)\".*$" "\\1" header "${line}")
    if(NOT header MATCHES "^(proxy|common|backend|tests|bench)/")
      continue()  # a system or third-party header
    endif()
    set(ok FALSE)
    foreach(prefix IN LISTS allowed)
      string(FIND "${header}" "${prefix}/" at)
      if(at EQUAL 0)
        set(ok TRUE)
        break()
      endif()
    endforeach()
    if(NOT ok)
      string(REPLACE ";" ", " may_use "${allowed}")
      string(APPEND violations
             "${relative} includes ${header} but ${LIBRARY} may only use ${may_use}\n")
    endif()
  endforeach()
endforeach()
if(violations)
  message(FATAL_ERROR "layering violation:\n${violations}")
endif()
get_filename_component(stamp_dir "${STAMP}" DIRECTORY)
file(MAKE_DIRECTORY "${stamp_dir}")
file(TOUCH "${STAMP}")
