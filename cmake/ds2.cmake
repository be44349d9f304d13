# Helpers shared by the folder CMakeLists.

# ds2_library(NAME <folder> [SOURCES dir...]) -- one library per top-level folder, sources
# collected from the listed directories (CONFIGURE_DEPENDS, so a new file needs no edit here).
function(ds2_library folder)
  cmake_parse_arguments(A "" "" "DIRS" ${ARGN})
  if(NOT A_DIRS)
    set(A_DIRS ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  set(srcs)
  foreach(d ${A_DIRS})
    file(GLOB s CONFIGURE_DEPENDS ${d}/*.cc)
    list(APPEND srcs ${s})
  endforeach()
  if(NOT srcs)
    set(srcs ${CMAKE_SOURCE_DIR}/cmake/empty.cc)  # a folder with no .cc (a library needs one)
  endif()
  add_library(ds2_${folder} STATIC ${srcs})
  target_link_libraries(ds2_${folder} PUBLIC ds2_flags)
  set_target_properties(ds2_${folder} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()

# ds2_add_gtest(FOLDER <folder> LIBS ...) -- one gtest executable per test folder, discovered.
function(ds2_add_gtest folder)
  cmake_parse_arguments(A "" "" "LIBS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc)
  list(FILTER srcs EXCLUDE REGEX "_mpi_test\\.cc$")  # those run under mpiexec, see below
  if(NOT srcs)
    return()
  endif()
  add_executable(${folder}_tests ${srcs})
  target_link_libraries(${folder}_tests PRIVATE ${A_LIBS} ds2_testutil GTest::gtest_main)
  gtest_discover_tests(${folder}_tests PROPERTIES LABELS ${folder} TIMEOUT 300
                       DISCOVERY_TIMEOUT 60)
endfunction()

# ds2_add_mpi_test(NAME n SRC f_mpi_test.cc LIBS ... NP 1 2 3) -- registers one ctest per rank count,
# launched through mpiexec. The gtest main in tests/mpi_main.cc owns MPI_Init/Finalize.
function(ds2_add_mpi_test)
  cmake_parse_arguments(A "" "NAME;TIMEOUT" "SRC;LIBS;NP" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  add_executable(${A_NAME} ${A_SRC} ${CMAKE_SOURCE_DIR}/tests/mpi_main.cc)
  target_link_libraries(${A_NAME} PRIVATE ${A_LIBS} ds2_testutil GTest::gtest MPI::MPI_CXX)
  foreach(np ${A_NP})
    add_test(NAME ${A_NAME}_np${np}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} ${MPIEXEC_PREFLAGS}
                     $<TARGET_FILE:${A_NAME}> ${MPIEXEC_POSTFLAGS})
    # A GTEST_SKIP in any case (and no failure) makes tests/mpi_main.cc exit 77: skipped.
    set_tests_properties(${A_NAME}_np${np} PROPERTIES PROCESSORS ${np} TIMEOUT ${A_TIMEOUT}
                         LABELS mpi SKIP_RETURN_CODE 77)
  endforeach()
endfunction()
