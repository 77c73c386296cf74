# Installs the client library's component into a scratch prefix, then configures and builds the example
# (examples/heraldclient), a project of its own, against it: find_package(HeraldClient) and Herald::Client
# must be all another Qt program needs.
# cmake -DBUILD_DIR=<build> -DPREFIX=<scratch> -DSOURCE_DIR=<herald> -DCXX=<compiler> [-DSANITIZE=flags]
#       -P clientcheck.cmake
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" --component client-dev
    RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake --install --component client-dev failed: ${rc}")
endif()
foreach(f include/HeraldClient/client.h include/HeraldClient/connection.h include/HeraldClient/backoff.h
        include/HeraldClient/message.h lib/cmake/HeraldClient/HeraldClientConfig.cmake
        lib/cmake/HeraldClient/HeraldClientConfigVersion.cmake lib/cmake/HeraldClient/HeraldClientTargets.cmake)
    if(NOT EXISTS "${PREFIX}/${f}")
        message(FATAL_ERROR "not installed: ${PREFIX}/${f}")
    endif()
endforeach()
if(EXISTS "${PREFIX}/bin/herald-server" OR EXISTS "${PREFIX}/bin/herald-dashboard")
    message(FATAL_ERROR "the client-dev component must carry the library only")
endif()

set(build "${PREFIX}/example-build")
set(flags)
if(SANITIZE)
    # The installed static libraries were built with the sanitizers: their runtime must be linked too.
    list(APPEND flags "-DCMAKE_CXX_FLAGS=${SANITIZE}" "-DCMAKE_EXE_LINKER_FLAGS=${SANITIZE}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/examples/heraldclient" -B "${build}"
        "-DCMAKE_PREFIX_PATH=${PREFIX}" "-DCMAKE_CXX_COMPILER=${CXX}" ${flags}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "configuring the example against the installed package failed:\n${out}\n${err}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${build}" RESULT_VARIABLE rc OUTPUT_VARIABLE out
    ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "building the example failed:\n${out}\n${err}")
endif()
# It runs: without arguments it says how to use it and exits 2 (not under the sanitizers, whose leak report
# of Qt's globals would change the exit status).
if(NOT SANITIZE)
    execute_process(COMMAND "${build}/herald-listen" RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
    if(NOT rc EQUAL 2 OR NOT err MATCHES "usage: herald-listen")
        message(FATAL_ERROR "herald-listen without arguments: exit ${rc}, '${err}'")
    endif()
endif()
file(REMOVE_RECURSE "${PREFIX}")
message(STATUS "client install check passed")
