# Normal build (any compiler): each fuzz target linked with replay_main.cpp
# instead of libFuzzer, run by ctest over its seed corpus and its regression
# inputs. A crash a fuzzer found stays fixed once its input is committed under
# tests/fuzz/regressions/<target>/. Included from tests/CMakeLists.txt.
include(${CMAKE_CURRENT_LIST_DIR}/targets.cmake)
foreach(t ${MAG_FUZZ_TARGETS})
  add_executable(${t}_replay ${CMAKE_CURRENT_LIST_DIR}/${t}.cpp ${CMAKE_CURRENT_LIST_DIR}/replay_main.cpp)
  if(t MATCHES "^fuzz_http")
    target_link_libraries(${t}_replay PRIVATE mag_common)
  else()
    target_link_libraries(${t}_replay PRIVATE mag_proxy)
  endif()
  add_test(NAME fuzz_replay_${t}
           COMMAND ${t}_replay ${CMAKE_CURRENT_LIST_DIR}/corpus/${t} ${CMAKE_CURRENT_LIST_DIR}/regressions/${t})
  set_tests_properties(fuzz_replay_${t} PROPERTIES LABELS fuzz TIMEOUT 120)
endforeach()
